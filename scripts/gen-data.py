#!/usr/bin/env python3
"""gen-data.py -- regenerate kervan's reference data (data/*.tsv).

A developer tool, not run by the build. It reads the public test data in
shared/data (each folder documents its sources in SOURCES.md) and writes the
project's own lists in the data/ format described in docs/data.md:

    # comment lines: what the list is, NCTS code list, source, licence, derivation
    header<TAB>line
    rows<TAB>separated

Usage: scripts/gen-data.py [SHARED_DATA_DIR] [--out DATA_DIR]
       (defaults: ../shared/data relative to the repository root, and data/)

Standard library only. The output is deterministic: running the script twice
gives byte-identical files, so `git diff` after a run shows real changes only.
"""

import argparse
import csv
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------
# helpers


def die(msg):
    sys.stderr.write("gen-data: " + msg + "\n")
    sys.exit(1)


def clean(text):
    """Collapses runs of white space and strips; rejects nothing."""
    return re.sub(r"\s+", " ", text).strip()


def check_field(list_name, value):
    if "\t" in value or "\n" in value or "\r" in value:
        die("%s: field %r contains a tab or newline" % (list_name, value))
    return value


class Sources:
    """The file table of one SOURCES.md: file -> (repo, path, commit, licence)."""

    def __init__(self, path):
        self.rows = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("| "):
                    continue
                cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
                if len(cells) < 5 or cells[0] in ("file", "---"):
                    continue
                self.rows[cells[0]] = cells

    def cite(self, name):
        c = self.rows.get(name)
        if c is None:
            die("no SOURCES.md entry for " + name)
        return "%s:%s@%s (%s)" % (c[1], c[2], c[3], c[4])


def write_tsv(out_dir, fname, comments, header, rows):
    """Writes one list; rows must already be sorted and unique by column 0."""
    keys = [r[0] for r in rows]
    if len(set(keys)) != len(keys):
        die("%s: duplicate keys" % fname)
    if keys != sorted(keys, key=lambda k: k.encode("utf-8")):
        die("%s: rows not sorted" % fname)
    lines = []
    for c in comments:
        for part in c.split("\n"):
            lines.append(("# " + part).rstrip())
    lines.append("\t".join(header))
    for r in rows:
        if len(r) != len(header):
            die("%s: row %r has %d fields, header %d" % (fname, r, len(r), len(header)))
        lines.append("\t".join(check_field(fname, str(v)) for v in r))
    path = os.path.join(out_dir, fname)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print("%-24s %5d rows" % (fname, len(rows)))


def sort_rows(rows):
    return sorted(rows, key=lambda r: r[0].encode("utf-8"))


REGEN = "Regenerate with scripts/gen-data.py (see docs/data.md); do not edit by hand."

# ---------------------------------------------------------------------------
# code lists


def gen_countries(shared, out, src):
    rows = []
    with open(os.path.join(shared, "codelists/iso3166/country-codes.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            a2 = r["ISO3166-1-Alpha-2"].strip()
            if not a2:
                continue  # rows without an alpha-2 code are not ISO 3166-1 entries
            if not re.fullmatch(r"[A-Z]{2}", a2):
                die("country code %r" % a2)
            name = clean(r["official_name_en"]) or clean(r["CLDR display name"])
            rows.append([a2, name, r["ISO3166-1-Alpha-3"].strip(),
                         r["ISO3166-1-numeric"].strip().zfill(3)])
    if not 245 <= len(rows) <= 252:
        die("unexpected number of ISO 3166-1 codes: %d" % len(rows))
    write_tsv(out, "countries.tsv", [
        "Countries: ISO 3166-1 alpha-2 codes with English short names.",
        "NCTS code lists CL008 (CountryCodesFullList), CL248 (address), CL165 (nationality) use these codes.",
        "Source: " + src.cite("iso3166/country-codes.csv"),
        "Derived: rows with an ISO3166-1-Alpha-2 code; label = official_name_en (the UN/ISO short",
        "name); alpha3 and numeric (3 digits) kept for reference. " + REGEN,
    ], ["code", "label", "alpha3", "numeric"], sort_rows(rows))
    return {r[0] for r in rows}


def gen_currencies(shared, out, src):
    seen = {}
    withdrawn = set()
    with open(os.path.join(shared, "codelists/iso4217/codes-all.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            code = r["AlphabeticCode"].strip()
            if not code:
                continue  # "No universal currency"
            if r["WithdrawalDate"].strip():
                withdrawn.add(code)
                continue
            if not re.fullmatch(r"[A-Z]{3}", code):
                die("currency code %r" % code)
            row = [code, clean(r["Currency"]), r["NumericCode"].strip(), r["MinorUnit"].strip()]
            if code in seen and seen[code] != row:
                die("currency %s listed with different data: %r / %r" % (code, seen[code], row))
            seen[code] = row
    rows = sort_rows(seen.values())
    write_tsv(out, "currencies.tsv", [
        "Currencies: ISO 4217 alphabetic codes in current use, with the English currency name.",
        "NCTS code list CL048 (CurrencyCodes).",
        "Source: " + src.cite("iso4217/codes-all.csv"),
        "Derived: rows with an AlphabeticCode and no WithdrawalDate, one row per code (the file",
        "lists a code once per entity). minor_unit is N.A. for funds and metals. " + REGEN,
    ], ["code", "label", "numeric", "minor_unit"], rows)
    return {r[0] for r in rows}


def gen_hs(shared, out, src):
    rows = []
    with open(os.path.join(shared, "codelists/hs2022/harmonized-system.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["level"].strip() != "6":
                continue
            code = r["hscode"].strip()
            if not re.fullmatch(r"[0-9]{6}", code):
                die("HS code %r" % code)
            rows.append([code, clean(r["description"])])
    # The source's HS 2022 edition has 5,613 level-6 rows; a different count
    # means a different edition or a damaged file.
    assert len(rows) == 5613, "expected 5,613 HS 2022 level-6 rows, found %d" % len(rows)
    extra = [r for r in rows if r[0].startswith("99")]
    write_tsv(out, "hs2022.tsv", [
        "HS 2022: the six-digit subheadings of the Harmonized System, 2022 edition (5,613 rows).",
        "NCTS code list CL152 (HScode); the EU adds 2 CN digits, the corridor uses HS6.",
        "Source: " + src.cite("hs2022/harmonized-system.csv"),
        "Derived: every row with level 6; label = the Comtrade description (not the WCO legal text).",
        "Note: the rows include %s (section TOTAL), a UN Comtrade reporting code, not a WCO"
        % ", ".join("%s '%s'" % (r[0], r[1]) for r in extra),
        "subheading; it is kept so that the list is exactly the source's level-6 rows.",
        REGEN,
    ], ["code", "label"], sort_rows(rows))


def gen_packages(shared, out, src):
    rec = {}
    with open(os.path.join(shared, "codelists/unece-rec21/rec21-package-types.csv"), encoding="utf-8") as f:
        rd = csv.reader(f)
        next(rd)
        for r in rd:
            code = r[0].strip()
            if not re.fullmatch(r"[0-9A-Z]{2}", code):
                die("package code %r" % code)
            if code in rec:
                die("package code %s twice" % code)
            rec[code] = clean(r[1])
    with open(os.path.join(shared, "codelists/ncts-p5-hmrc-reference/kindsOfPackageP5.json"), encoding="utf-8") as f:
        hmrc = {x["code"]: x for x in json.load(f)}
    only_rec = sorted(set(rec) - set(hmrc))
    only_hmrc = sorted(set(hmrc) - set(rec))
    differ = [(c, rec[c], clean(hmrc[c]["description"])) for c in sorted(set(rec) & set(hmrc))
              if rec[c] != clean(hmrc[c]["description"])]
    rows = []
    for code in sorted(rec):
        kind = hmrc[code]["type"].lower() if code in hmrc else ""
        rows.append([code, rec[code], kind])
    notes = [
        "Kinds of packages: UN/ECE Recommendation 21 package type codes (two characters).",
        "NCTS code list CL017 (KindOfPackages); kind = bulk (CL181) / unpacked (CL182) / other.",
        "Source: " + src.cite("unece-rec21/rec21-package-types.csv"),
        "Cross-checked against HMRC's CL017 copy: " + src.cite("ncts-p5-hmrc-reference/kindsOfPackageP5.json"),
        "Derived: label = Rec. 21 name with white space collapsed; kind = HMRC's type.",
        "Cross-check: %d codes in Rec. 21, %d in HMRC CL017; only in Rec. 21: %s; only in HMRC: %s."
        % (len(rec), len(hmrc), ", ".join(only_rec) or "none", ", ".join(only_hmrc) or "none"),
        "Labels that still differ after collapsing white space (%d; Rec. 21 kept):" % len(differ),
    ]
    for c, a, b in differ:
        notes.append("  %s  Rec21 %r  HMRC %r" % (c, a, b))
    notes.append(REGEN)
    write_tsv(out, "packages.tsv", notes, ["code", "label", "kind"], rows)


def load_hmrc_list(shared, name):
    with open(os.path.join(shared, "codelists/ncts-p5-hmrc-reference", name), encoding="utf-8") as f:
        return json.load(f)


def gen_transport_modes(shared, out, src):
    rows = []
    for x in load_hmrc_list(shared, "transportModes.json"):
        code = x["code"].strip()
        if x["state"] != "valid" or not re.fullmatch(r"[0-9]", code):
            continue  # the two-digit codes are the NCTS P4 (CL018) forms
        rows.append([code, clean(x["description"])])
    write_tsv(out, "transport-modes.tsv", [
        "Transport modes: mode of transport at the border / inland.",
        "NCTS code list CL218 (TransportModeCode), one digit.",
        "Source: " + src.cite("ncts-p5-hmrc-reference/transportModes.json"),
        "Derived: the valid one-digit codes as published there (0 and 6 are not published); the",
        "file's two-digit codes (10, 12, 16, ...) are the older P4 forms and are left out. " + REGEN,
    ], ["code", "label"], sort_rows(rows))


def gen_incidents(shared, out, src):
    rows = [[x["code"].strip(), clean(x["description"])]
            for x in load_hmrc_list(shared, "incidentCodes.json") if x["state"] == "valid"]
    write_tsv(out, "incidents.tsv", [
        "Incident codes: what happened to a movement en route (CC015C/CC182C INCIDENT).",
        "NCTS code list CL019 (IncidentCode), one digit.",
        "Source: " + src.cite("ncts-p5-hmrc-reference/incidentCodes.json"),
        "Derived: the valid entries, description as label. " + REGEN,
    ], ["code", "label"], sort_rows(rows))


# Lists that no public file in shared/data holds in full: written here, each
# entry backed by the cited document.
DECLARATION_TYPES = [
    ["T", "Mixed consignment: items of different types (T1, T2, T2F, ...) declared at item level (CL232)"],
    ["T1", "External transit: goods not having the customs status of Union goods"],
    ["T2", "Internal transit: goods having the customs status of Union goods"],
    ["T2F", "Internal transit of Union goods to, from or between special fiscal territories"],
    ["T2SM", "Goods from San Marino under internal transit"],
    ["TIR", "Goods moved under the TIR procedure (TIR carnet)"],
]

SECURITY = [
    ["0", "No safety and security data", "J"],
    ["1", "Entry summary declaration (ENS) data", "L"],
    ["2", "Exit summary declaration (EXS) data", "K"],
    ["3", "ENS and EXS data", "M"],
]

GUARANTEE_TYPES = [
    ["0", "Guarantee waiver"],
    ["1", "Comprehensive guarantee"],
    ["2", "Individual guarantee as an undertaking by a guarantor"],
    ["3", "Individual guarantee in cash"],
    ["4", "Individual guarantee in the form of vouchers"],
    ["5", "Guarantee waiver (secured amount of EUR 500 or less)"],
    ["8", "Guarantee not required (exempt public body)"],
    ["9", "Individual guarantee with multiple usage"],
    ["A", "Guarantee waiver by agreement"],
    ["B", "Guarantee for goods dispatched under the TIR procedure"],
    ["R", "Guarantee not required (goods carried on the Rhine, the Danube or their waterways)"],
]


def gen_fixed_lists(shared, out, src):
    ex = "hmrc-trader-test-pack-v7/.../xi-gb/normal/dnxi8_ie015_xml_example.xml"
    write_tsv(out, "declaration-types.tsv", [
        "Declaration types: the transit procedure of a declaration (CC015C TRANSIT OPERATION).",
        "NCTS code list CL231 (DeclarationType).",
        "Source: shared/DOMAIN.md section 5.3 (CL231 = T, T1, T2, T2F, T2SM, TIR), after the EU list",
        "RD_NCTS-P5_DeclarationType (linked from the HMRC TIS, hmrc/ctc-traders-phase5-tis, Apache-2.0).",
        "Seen in real messages in shared/data/ncts-p5-examples: T1 (HMRC test packs and validator",
        "cases) and TIR (" + ex + ").",
        "HMRC's NCTS4-era frontend spelled the mixed type 'T-'; Phase 5 uses 'T' (item level: CL232).",
        "Derived: written by hand in scripts/gen-data.py; labels are kervan's English summaries. " + REGEN,
    ], ["code", "label"], sort_rows(DECLARATION_TYPES))
    write_tsv(out, "security.tsv", [
        "Security: which safety and security data a transit declaration carries.",
        "NCTS code list CL217 (DeclarationTypeSecurity).",
        "Source: NCTS P5 rule R0410 (hmrc/ctc-traders-phase5-tis, source/documentation/partials/_rules_R.md,",
        "Apache-2.0), as summarised in shared/DOMAIN.md sections 2.9 and 5.3.",
        "mrn_letter: the procedure category that R0410 requires in MRN position 17 for transit.",
        "Derived: written by hand in scripts/gen-data.py. " + REGEN,
    ], ["code", "label", "mrn_letter"], sort_rows(SECURITY))
    write_tsv(out, "guarantee-types.tsv", [
        "Guarantee types: the kind of guarantee covering a transit movement (CC015C GUARANTEE).",
        "NCTS code list CL251 (GuaranteeType).",
        "Source: shared/DOMAIN.md section 2.8: the HMRC NCTS5 user interface list (0-5, 8, 9, A, R),",
        "and B (TIR) from the EU CL251, marked unverified there (check RD_NCTS-P5_GuaranteeType).",
        "Derived: written by hand in scripts/gen-data.py. " + REGEN,
    ], ["code", "label"], sort_rows(GUARANTEE_TYPES))


# ---------------------------------------------------------------------------
# the office registry (see /work/notes/offices.md and docs/data.md)

ROLE_ORDER = ["DEP", "TRA", "TXT", "DES", "INC", "GUA"]
TRAFFIC_MAP = {"R": "road", "V": "rail", "P": "sea", "AIR": "air"}
TRAFFIC_ORDER = ["road", "rail", "sea", "air"]

# Türkiye: real references (EU CS/RD2 COL). place, the LOCODE used for the
# coordinates, whether that LOCODE is the office's own, and a note.
# LOCODE keys are looked up in shared/data/unlocode; never invented.
TR_OFFICES = [
    # ref, place, locode for coordinates, own locode?, corridor TRA addition?, note
    ("TR080200", "Sarp", "TRHOP", False, True, "Sarp (GE border) has no UN/LOCODE"),
    ("TR080300", "Aktaş", "TRARD", False, True, "Aktaş (GE border) has no UN/LOCODE"),
    ("TR080400", "Türkgözü", "TRARD", False, True, "Türkgözü (GE border) has no UN/LOCODE"),
    ("TR041900", "Kars", "TRKSY", True, True, ""),
    ("TR330100", "Mersin", "TRMER", True, False, ""),
    ("TR343100", "Ambarlı", "TRAMR", True, False, ""),
    ("TR343500", "Halkalı", "TRHAL", True, False, ""),
    ("TR220200", "Kapıkule", "TRKPU", True, False, ""),
    ("TR220400", "Kapıkule", "TRKPU", True, False, ""),
    ("TR221300", "Hamzabeyli", "TRLAL", False, False, "Hamzabeyli (BG border) has no UN/LOCODE"),
    ("TR220500", "İpsala", "TRIPS", True, False, ""),
    ("TR550100", "Samsun", "TRSSX", True, False, ""),
    ("TR610100", "Trabzon", "TRTZX", True, False, ""),
    ("TR410300", "Derince", "TRDRC", True, False, ""),
    ("TR041800", "Dilucu", "TRIGD", False, False, "Dilucu (AZ/Nakhchivan border) has no UN/LOCODE"),
]
# Where a LOCODE exists but the source gives no coordinates: the place used instead.
COORD_FALLBACK = {"TRKPU": "TREDI"}

# The provisional references fixed in /work/notes/offices.md (binding).
PROVISIONAL = [
    # ref, name, place, roles, traffic, locode, own?, note
    ("KZ050100", "Almaty inland customs office", "Almaty", "DEP DES", "road rail", "KZALA", True, ""),
    ("KZ050200", "Nur Zholy road crossing (Khorgos, CN border)", "Khorgos", "DEP DES TRA TXT", "road", "KZHOR", True, ""),
    ("KZ050300", "Altynkol rail crossing (Khorgos, CN border)", "Altynkol", "DEP DES TRA TXT", "rail", "KZHOR", False,
     "Altynkol has no UN/LOCODE of its own"),
    ("KZ190100", "Dostyk rail crossing (CN border)", "Dostyk", "DEP DES TRA TXT", "rail", "KZDOS", True,
     "LOCODE spelled Dosytk"),
    ("KZ470100", "Aktau sea port", "Aktau", "DEP DES TRA TXT", "sea rail road", "KZAAU", True, ""),
    ("KZ470200", "Kuryk sea port", "Kuryk", "DEP DES TRA TXT", "sea rail road", "KZKUR", True, ""),
    ("KZ610100", "Saryagash rail and road crossing (UZ border)", "Saryagash", "DEP DES TRA TXT", "rail road", "KZSRY", True,
     "LOCODE spelled Saryagach"),
    ("AZ100100", "Baku inland customs office", "Baku", "DEP DES", "road rail", "AZBAK", True, ""),
    ("AZ100200", "Alat, Baku International Sea Trade Port", "Alat", "DEP DES TRA TXT", "sea rail road", "AZALA", True, ""),
    ("AZ200100", "Red Bridge / Qırmızı Körpü road crossing (GE border)", "Qırmızı Körpü", "TRA TXT", "road", "AZKAZ", False,
     "Red Bridge has no UN/LOCODE"),
    ("AZ200200", "Böyük Kəsik rail crossing (GE border)", "Böyük Kəsik", "TRA TXT", "rail", "AZKAZ", False,
     "Böyük Kəsik has no UN/LOCODE"),
    ("GE100100", "Tbilisi inland customs office", "Tbilisi", "DEP DES", "road rail", "GETBS", True, ""),
    ("GE200100", "Tsiteli Khidi / Red Bridge road crossing (AZ border)", "Tsiteli Khidi", "TRA TXT", "road", "GEGAR", False,
     "Tsiteli Khidi has no UN/LOCODE"),
    ("GE200200", "Gardabani rail crossing (AZ border)", "Gardabani", "TRA TXT", "rail", "GEGAR", True, ""),
    ("GE300100", "Poti sea port", "Poti", "DEP DES TRA TXT", "sea rail road", "GEPTI", True, ""),
    ("GE300200", "Batumi sea port", "Batumi", "DEP DES TRA TXT", "sea rail road", "GEBUS", True, ""),
    ("GE400100", "Sarpi road crossing (TR border)", "Sarpi", "TRA TXT", "road", "GEBUS", False,
     "Sarpi has no UN/LOCODE"),
    ("GE400200", "Akhalkalaki rail (Baku-Tbilisi-Kars line)", "Akhalkalaki", "DEP DES TRA TXT", "rail", "GEZAI", True, ""),
    ("UZ100100", "Tashkent inland customs office", "Tashkent", "DEP DES", "road rail", "UZTAS", True, ""),
    ("UZ200100", "Yallama road crossing (KZ border)", "Yallama", "TRA TXT", "road", "UZGST", False,
     "Yallama has no UN/LOCODE"),
    ("UZ200200", "Gisht-Kuprik road crossing (KZ border)", "Gisht-Kuprik", "TRA TXT", "road", "UZCHU", False,
     "Gisht-Kuprik has no UN/LOCODE"),
    ("UZ200300", "Keles rail crossing (KZ border)", "Keles", "TRA TXT", "rail", "UZCHU", False,
     "Keles has no UN/LOCODE"),
    ("KG100100", "Bishkek inland customs office", "Bishkek", "DEP DES", "road rail", "KGFRU", True, ""),
    ("KG200100", "Ak-Zhol road crossing (KZ border)", "Ak-Zhol", "TRA TXT", "road", "KGFRU", False,
     "Ak-Zhol has no UN/LOCODE"),
    ("KG200200", "Torugart road crossing (CN border)", "Torugart", "DEP DES TRA TXT", "road", "KGNAR", False,
     "Torugart has no UN/LOCODE"),
    ("KG200300", "Irkeshtam road crossing (CN border)", "Irkeshtam", "DEP DES TRA TXT", "road", "KGOSS", False,
     "Irkeshtam has no UN/LOCODE"),
]


def load_locodes(shared):
    """LOCODE -> (name, lat, lon, geocoded, file) from the unlocode folder."""
    codes = {}
    gdir = os.path.join(shared, "unlocode/geoapify")
    for fn in sorted(os.listdir(gdir)):
        if not fn.endswith(".csv"):
            continue
        # a few names in these files are Latin-1; only codes and numbers are used
        with open(os.path.join(gdir, fn), encoding="utf-8", errors="replace") as f:
            for r in csv.DictReader(f):
                code = r["country"] + r["location"]
                lat = float(r["lat"]) if r["lat"] else None
                lon = float(r["lon"]) if r["lon"] else None
                codes[code] = (r["nameWoDiacritics"], lat, lon, r["geocoded"] == "true",
                               "geoapify/" + fn)
    # the hand-picked selection repeats geoapify rows; check that it agrees
    with open(os.path.join(shared, "unlocode/middle-corridor-selection.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            c = codes.get(r["unlocode"])
            if c is None:
                die("selection has %s, geoapify does not" % r["unlocode"])
            if r["lat"] and (c[1] is None or abs(float(r["lat"]) - c[1]) > 1e-9):
                die("selection and geoapify disagree on %s" % r["unlocode"])
    # the EU CS/RD2 list confirms TR codes (it has no coordinates)
    col = set()
    with open(os.path.join(shared, "unlocode/eu-col-unlocode-TR-UA-20241105.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            col.add(r["country"] + r["unlocode"])
    return codes, col


def coords(codes, code):
    c = codes.get(code)
    if c is None:
        die("UN/LOCODE %s not in shared/data/unlocode" % code)
    used = code
    if c[1] is None:
        used = COORD_FALLBACK.get(code) or die("%s has no coordinates and no fallback" % code)
        c = codes[used]
    return used, c


def fmt_coord(v):
    return "%.6f" % v


def gen_offices(shared, out, csrc, usrc, countries):
    codes, col = load_locodes(shared)
    col_rows = {}
    with open(os.path.join(shared, "customs-offices/eu-col-customs-offices-20241105.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            col_rows[r["reference_number"]] = r
    rows = []
    for ref, place, loc, own, add_tra, note in TR_OFFICES:
        r = col_rows.get(ref) or die("%s not in the COL list" % ref)
        if r["country"] != "TR" or r["state"] != "valid":
            die("%s: not a valid TR office" % ref)
        roles, traffic = set(), set()
        for pair in r["roles"].split(";"):
            if not pair:
                continue
            role, tt = pair.split(":")
            if role in ROLE_ORDER:
                roles.add(role)
                if tt in TRAFFIC_MAP:
                    traffic.add(TRAFFIC_MAP[tt])
        src = ["EU CS/RD2 COL 2024-11-05"]
        if add_tra and "TRA" not in roles:
            roles.add("TRA")
            src.append("corridor addition: TRA (entry office of transit)")
        used, c = coords(codes, loc)
        if own and loc[:2] == "TR" and loc not in col:
            die("%s not in the EU CS/RD2 UN/LOCODE list" % loc)
        if own:
            if used != loc:
                src.append("coordinates of %s (%s); the source gives %s none" % (codes[used][0], used, loc))
        else:
            src.append("%s; coordinates of nearest listed place %s (%s)" % (note, c[0], used))
        if c[3]:
            src.append("coordinates geocoded by Geoapify")
        rows.append([ref, "TR", clean(r["usual_name"]), place, loc if own else "",
                     fmt_coord(c[1]), fmt_coord(c[2]),
                     ",".join(x for x in ROLE_ORDER if x in roles),
                     ",".join(x for x in TRAFFIC_ORDER if x in traffic), "published", "; ".join(src)])
    for ref, name, place, roles, traffic, loc, own, note in PROVISIONAL:
        if not re.fullmatch(r"[A-Z]{2}[0-9]{6}", ref) or ref[:2] not in countries:
            die("bad reference " + ref)
        used, c = coords(codes, loc)
        src = ["kervan provisional reference (docs/data.md)"]
        if own:
            if note:
                src.append(note)
        else:
            src.append("%s; coordinates of nearest listed place %s (%s)" % (note, c[0], used))
        if c[3]:
            src.append("coordinates geocoded by Geoapify")
        rl = roles.split()
        tl = traffic.split()
        rows.append([ref, ref[:2], name, place, loc if own else "", fmt_coord(c[1]), fmt_coord(c[2]),
                     ",".join(x for x in ROLE_ORDER if x in rl),
                     ",".join(x for x in TRAFFIC_ORDER if x in tl), "provisional", "; ".join(src)])
    write_tsv(out, "offices.tsv", [
        "Customs offices of the corridor: reference number (CC + 6 digits, NCTS CL141 layout), roles and traffic.",
        "roles: DEP departure, TRA transit, TXT exit for transit, DES destination, INC incident, GUA guarantee.",
        "traffic: road, rail, sea, air (CS/RD2 traffic types R, V, P, AIR). lat/lon: decimal degrees.",
        "status: published = real reference from the EU CS/RD2 list; provisional = kervan's reference for a",
        "country that publishes none (KZ, AZ, GE, UZ, KG), kept until the country publishes its own.",
        "Sources: TR offices: " + csrc.cite("eu-col-customs-offices-20241105.csv"),
        "  (name as published; roles DEP/TRA/TXT/DES/INC/GUA kept, others dropped; traffic R/V/P/AIR mapped).",
        "UN/LOCODEs and coordinates: " + usrc.cite("geoapify/KZ.csv").replace("KZ.csv", "<CC>.csv"),
        "  and " + usrc.cite("eu-col-unlocode-TR-UA-20241105.csv") + " for TR codes.",
        "A crossing without a UN/LOCODE of its own has an empty unlocode and the coordinates of the nearest",
        "listed place, named in the source column. Provisional references: /work/notes/offices.md.",
        REGEN,
    ], ["ref", "country", "name", "place", "unlocode", "lat", "lon", "roles", "traffic", "status", "source"],
        sort_rows(rows))


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="Regenerate data/*.tsv from shared/data.")
    ap.add_argument("shared", nargs="?", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data"))
    a = ap.parse_args()
    shared = os.path.abspath(a.shared)
    if not os.path.isdir(os.path.join(shared, "codelists")):
        die("%s does not look like shared/data" % shared)
    os.makedirs(a.out, exist_ok=True)
    csrc = Sources(os.path.join(shared, "codelists/SOURCES.md"))
    countries = gen_countries(shared, a.out, csrc)
    gen_currencies(shared, a.out, csrc)
    gen_hs(shared, a.out, csrc)
    gen_packages(shared, a.out, csrc)
    gen_transport_modes(shared, a.out, csrc)
    gen_incidents(shared, a.out, csrc)
    gen_fixed_lists(shared, a.out, csrc)
    gen_offices(shared, a.out, Sources(os.path.join(shared, "customs-offices/SOURCES.md")),
                Sources(os.path.join(shared, "unlocode/SOURCES.md")), countries)


if __name__ == "__main__":
    main()
