#!/usr/bin/env python3
"""make-cases.py — writes the inputs of the golden validation cases.

Usage: tests/golden/make-cases.py           (re)write tests/golden/validate/*.json
       tests/golden/make-cases.py --check   exit 1 if a committed input differs

Most bad cases are the example declaration (examples/declaration.json) with one
mutation, so they stay in step with the example. Valid cases and malformed JSON
are written out here too. The script writes ONLY the .json inputs: each
NNN-name.expected file (the exact `pointer: rule: message` lines the validator
must print, empty for a valid case) is written and reviewed by hand.

Decimals are kept as written (parse_float=Decimal and a small serializer), so
"3200.000" stays "3200.000" in every generated case.
"""
import copy
import json
import os
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "validate")


def load_example():
    with open(os.path.join(ROOT, "examples", "declaration.json"), encoding="utf-8") as f:
        return json.load(f, parse_float=Decimal)


def dumps(v, ind=0):
    """JSON text with 2-space indentation; Decimals printed exactly as parsed."""
    pad = "  " * (ind + 1)
    end = "  " * ind
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [pad + json.dumps(k, ensure_ascii=False) + ": " + dumps(x, ind + 1)
                 for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(v, list):
        if not v:
            return "[]"
        return "[\n" + ",\n".join(pad + dumps(x, ind + 1) for x in v) + "\n" + end + "]"
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Raw):
        return v.text
    return json.dumps(v, ensure_ascii=False)


class Raw:
    """A value written verbatim (numbers json would reformat, e.g. 6.3805e3)."""

    def __init__(self, text):
        self.text = text


D = Decimal
EX = load_example()


def example():
    return copy.deepcopy(EX)


def item(d, h, i):
    return d["houseConsignments"][h]["items"][i]


# ---------------------------------------------------------------- valid cases

def minimal():
    """The least a declaration can carry: T1 from the Khorgos road crossing to Almaty."""
    return {
        "lrn": "NZ250001",
        "declarationType": "T1",
        "additionalDeclarationType": "A",
        "security": "0",
        "reducedDatasetIndicator": False,
        "bindingItinerary": False,
        "officeOfDeparture": "KZ050200",
        "officeOfDestination": "KZ050100",
        "holder": {"id": "180540001239"},
        "guarantees": [{"type": "1", "references": [
            {"grn": "25KZ050100ALA0012", "accessCode": "4821"}]}],
        "consignment": {"grossMass": D("1250.5")},
        "houseConsignments": [{
            "grossMass": D("1250.5"),
            "items": [{
                "declarationGoodsItemNumber": 1,
                "commodity": {"description": "Ceramic floor tiles", "hs": "690721",
                              "grossMass": D("1250.5")},
                "packages": [{"type": "PX", "number": 2, "shippingMarks": "NZ-1/2"}],
            }],
        }],
    }


def tir():
    """TIR, guarantee B, Almaty to Tbilisi by road over the Caspian: no offices of transit (C0030)."""
    return {
        "lrn": "TIR25AK0093",
        "declarationType": "TIR",
        "additionalDeclarationType": "A",
        "tirCarnetNumber": "XG70123456",
        "security": "0",
        "reducedDatasetIndicator": False,
        "bindingItinerary": True,
        "officeOfDeparture": "KZ050100",
        "officeOfDestination": "GE100100",
        "holder": {
            "id": "180540001239",
            "tirHolderId": "KAZ/137/052",
            "name": "Steppe Trans Logistics LLP",
            "address": {"street": "Dostyk Avenue 188, office 412", "postcode": "050051",
                        "city": "Almaty", "country": "KZ"},
        },
        "guarantees": [{"type": "B"}],
        "consignment": {
            "countryOfDispatch": "KZ",
            "countryOfDestination": "GE",
            "containerIndicator": False,
            "inlandMode": "3",
            "grossMass": D("18400.000"),
            "transportEquipment": [{"numberOfSeals": 1, "seals": ["TIR0093771"]}],
            "departureTransportMeans": [
                {"typeOfIdentification": "30", "identificationNumber": "512KDA02",
                 "nationality": "KZ"}],
            "countriesOfRouting": ["KZ", "AZ", "GE"],
            "placeOfLoading": {"unLocode": "KZALA", "country": "KZ", "location": "Almaty"},
        },
        "houseConsignments": [{
            "grossMass": D("18400.000"),
            "items": [{
                "declarationGoodsItemNumber": 1,
                "commodity": {"description": "Wheat flour, premium grade, in 50 kg bags",
                              "grossMass": D("18400.000"), "netMass": D("18200.000")},
                "packages": [{"type": "BG", "number": 364, "shippingMarks": "AKBIDAI 50KG"}],
                "value": {"amount": D("6370.00"), "currency": "USD"},
                "countryOfOrigin": "KZ",
            }],
        }],
    }


def t1_voucher():
    """T1 with an individual guarantee in vouchers: a 24-character GRN, amount in EUR."""
    d = minimal()
    d["lrn"] = "NZ250002"
    d["guarantees"] = [{"type": "4", "references": [
        {"grn": "25TR0802000001234A000127", "accessCode": "77Q1",
         "amount": D("1500.00"), "currency": "EUR"}]}]
    d["officeOfDeparture"] = "TR080200"
    d["officeOfDestination"] = "TR343100"
    return d


def rail_altynkol():
    """Rail from Altynkol (Khorgos) to Alat by the Kuryk–Alat rail ferry, two 20' containers."""
    return {
        "lrn": "RAIL25ALT0412",
        "declarationType": "T1",
        "additionalDeclarationType": "A",
        "security": "2",
        "reducedDatasetIndicator": False,
        "bindingItinerary": True,
        "limitDate": "2025-05-06",
        "officeOfDeparture": "KZ050300",
        "officeOfDestination": "AZ100200",
        "officesOfExitForTransit": ["KZ470200"],
        "holder": {"id": "151140014560", "name": "Khorgos Rail Forwarding LLP",
                   "address": {"street": "Station Street 3", "city": "Altynkol",
                               "country": "KZ"}},
        "guarantees": [{"type": "2", "references": [
            {"grn": "25KZ050300R000079", "accessCode": "R7K2",
             "amount": D("41200.00"), "currency": "USD"}]}],
        "consignment": {
            "countryOfDispatch": "CN",
            "countryOfDestination": "AZ",
            "containerIndicator": True,
            "inlandMode": "2",
            "borderMode": "1",
            "grossMass": D("38610.250"),
            "consignee": {"id": "AZ1402387211", "name": "Caspian Trade Hub LLC",
                          "address": {"street": "Alat settlement, port zone", "city": "Alat",
                                      "country": "AZ"}},
            "transportEquipment": [
                {"containerId": "TGHU1234567", "numberOfSeals": 1, "seals": ["CN8812001"],
                 "goodsReferences": [1]},
                {"containerId": "CSQU3054383", "numberOfSeals": 1, "seals": ["CN8812002"],
                 "goodsReferences": [2]},
            ],
            "departureTransportMeans": [
                {"typeOfIdentification": "20", "identificationNumber": "61538294",
                 "nationality": "KZ"}],
            "countriesOfRouting": ["KZ", "AZ"],
            "placeOfLoading": {"unLocode": "KZHOR", "country": "KZ", "location": "Altynkol"},
        },
        "houseConsignments": [{
            "grossMass": D("38610.250"),
            "items": [
                {"declarationGoodsItemNumber": 1,
                 "commodity": {"description": "Polyethylene film, rolls", "hs": "392010",
                               "grossMass": D("19880.250"), "netMass": D("19600.000")},
                 "packages": [{"type": "RO", "number": 140, "shippingMarks": "PE-FILM 1-140"}],
                 "value": {"amount": D("27440.00"), "currency": "USD"},
                 "countryOfOrigin": "CN"},
                {"declarationGoodsItemNumber": 2,
                 "commodity": {"description": "Steel wire rod coils", "hs": "721391",
                               "grossMass": D("18730.000"), "netMass": D("18700.000")},
                 "packages": [{"type": "CL", "number": 9, "shippingMarks": "WR-5.5 1-9"}],
                 "value": {"amount": D("13760.00"), "currency": "USD"},
                 "countryOfOrigin": "CN"},
            ],
        }],
    }


# ---------------------------------------------------------------- mutations

def m(fn, base=example):
    """A case: apply fn to a fresh copy of base()."""
    def build():
        d = base()
        fn(d)
        return d
    return build


def setp(path, value):
    """fn setting d[path...] = value (path is a tuple of keys / indices)."""
    def fn(d):
        x = d
        for k in path[:-1]:
            x = x[k]
        x[path[-1]] = value
    return fn


def delp(path):
    def fn(d):
        x = d
        for k in path[:-1]:
            x = x[k]
        del x[path[-1]]
    return fn


def both(*fns):
    def fn(d):
        for f in fns:
            f(d)
    return fn


CONS = ("consignment",)
TE0 = ("consignment", "transportEquipment", 0)
G0 = ("guarantees", 0)
R0 = ("guarantees", 0, "references", 0)
H0 = ("houseConsignments", 0)
H1 = ("houseConsignments", 1)
I2 = ("houseConsignments", 0, "items", 2)  # lithium batteries
C0 = ("houseConsignments", 0, "items", 0, "commodity")


def ten_guarantees(d):
    d["guarantees"] = [copy.deepcopy(d["guarantees"][0]) for _ in range(10)]


def hundred_seals(d):
    te = d["consignment"]["transportEquipment"][0]
    te["seals"] = ["KZ05%05d" % i for i in range(1, 101)]
    te["numberOfSeals"] = 99


CASES = [
    # valid
    ("001-example", m(lambda d: None)),
    ("002-minimal", minimal),
    ("003-tir-road", tir),
    ("004-t1-voucher-grn", t1_voucher),
    ("005-rail-altynkol", rail_altynkol),
    # transit operation
    ("010-lrn-space", m(setp(("lrn",), "STL25 AK0417"))),
    ("011-lrn-too-long", m(setp(("lrn",), "STL25AK0417-KZ-ALMATY-1"))),
    ("012-declaration-type-unknown", m(setp(("declarationType",), "T3"))),
    ("013-additional-declaration-type", m(setp(("additionalDeclarationType",), "B"))),
    ("014-security-unknown", m(setp(("security",), "4"))),
    ("015-security-0-with-exit-offices",
     m(both(setp(("security",), "0"), delp(CONS + ("placeOfUnloading",))))),
    ("016-security-3-without-border-mode",
     m(both(setp(("security",), "3"), delp(CONS + ("borderMode",))))),
    ("017-security-3-without-unloading",
     m(both(setp(("security",), "3"), delp(CONS + ("placeOfUnloading",))))),
    ("018-tir-without-carnet", m(delp(("tirCarnetNumber",)), tir)),
    ("019-carnet-without-tir", m(setp(("tirCarnetNumber",), "XG70123456"))),
    ("020-carnet-format", m(setp(("tirCarnetNumber",), "XG12345678"), tir)),
    ("021-tir-without-holder-id", m(delp(("holder", "tirHolderId")), tir)),
    ("022-tir-with-office-of-transit",
     m(setp(("officesOfTransit",), [{"office": "AZ200100"}]), tir)),
    ("023-limit-date-invalid", m(setp(("limitDate",), "2025-02-29"))),
    ("024-arrival-format", m(setp(("officesOfTransit", 0, "arrival"), "2025-04-10 06:00"))),
    ("025-arrival-order", m(setp(("officesOfTransit", 1, "arrival"), "2025-04-09T23:00:00"))),
    # offices
    ("026-office-shape", m(setp(("officeOfDestination",), "TR34310"))),
    ("027-office-country", m(setp(CONS + ("activeBorderTransportMeans", 0, "customsOffice"),
                                  "XX470100"))),
    ("028-office-not-in-registry", m(setp(("officeOfDeparture",), "KZ059999"))),
    ("029-transit-office-wrong-role", m(setp(("officesOfTransit", 0, "office"), "AZ100100"))),
    ("030-transit-office-twice", m(setp(("officesOfTransit", 2, "office"), "GE200100"))),
    ("031-exit-office-also-transit", m(setp(("officesOfExitForTransit", 1), "AZ100200"))),
    ("032-exit-office-wrong-role", m(setp(("officesOfExitForTransit", 0), "KZ050100"))),
    # itinerary
    ("033-routing-starts-elsewhere",
     m(setp(CONS + ("countriesOfRouting",), ["CN", "KZ", "AZ", "GE", "TR"]))),
    ("034-routing-ends-elsewhere",
     m(setp(CONS + ("countriesOfRouting",), ["KZ", "AZ", "GE", "TR", "BG"]))),
    ("035-routing-misses-a-country", m(setp(CONS + ("countriesOfRouting",), ["KZ", "AZ", "TR"]))),
    ("036-routing-order", m(setp(CONS + ("countriesOfRouting",), ["KZ", "GE", "AZ", "TR"]))),
    ("037-routing-missing-binding", m(delp(CONS + ("countriesOfRouting",)))),
    ("038-routing-repeat",
     m(setp(CONS + ("countriesOfRouting",), ["KZ", "AZ", "AZ", "GE", "TR"]))),
    ("039-routing-unknown-country",
     m(setp(CONS + ("countriesOfRouting",), ["KZ", "AZ", "ZZ", "GE", "TR"]))),
    # parties
    ("040-holder-unidentified", m(both(delp(("holder", "id")), delp(("holder", "address"))))),
    ("041-holder-name-too-long", m(setp(("holder", "name"),
                                        "Steppe Trans Logistics Limited Liability Partnership "
                                        "Almaty Branch No 01"))),
    ("042-email", m(setp(("holder", "contact", "email"), "customs.steppetrans.kz"))),
    ("043-representative-status", m(setp(("representative", "status"), "7"))),
    # guarantees
    ("044-guarantee-type-unknown", m(setp(G0 + ("type",), "7"))),
    ("045-grn-missing", m(delp(R0 + ("grn",)))),
    ("046-grn-check-digit", m(setp(R0 + ("grn",), "25KZ050100ALA0013"))),
    ("047-access-code-length", m(setp(R0 + ("accessCode",), "482"))),
    ("048-amount-zero", m(setp(R0 + ("amount",), 0))),
    ("049-currency-without-amount", m(delp(R0 + ("amount",)))),
    ("050-currency-unknown", m(setp(R0 + ("currency",), "USX"))),
    ("051-other-reference-not-allowed", m(setp(G0 + ("otherReference",), "KZ-BANK-7781"))),
    ("052-tir-second-guarantee-not-b",
     m(setp(("guarantees",), [{"type": "B"}, {"type": "3"}]), tir)),
    ("053-guarantee-b-without-tir",
     m(lambda d: d["guarantees"].append({"type": "B"}))),
    ("054-guarantee-without-reference", m(delp(G0 + ("references",)))),
    # decimals
    ("055-amount-three-decimals", m(setp(R0 + ("amount",), D("78450.001")))),
    ("056-mass-seven-decimals", m(setp(C0 + ("grossMass",), D("3200.0000001")))),
    ("057-mass-seventeen-digits", m(setp(CONS + ("grossMass",), 12345678901234567))),
    ("058-mass-negative", m(setp(C0 + ("netMass",), D("-5")))),
    ("059-mass-exponent", m(setp(H0 + ("grossMass",), Raw("6.3805e3")))),
    # masses
    ("060-net-above-gross", m(setp(C0 + ("netMass",), D("3200.001")))),
    ("061-house-below-items", m(setp(H1 + ("grossMass",), D("16549.999")))),
    ("062-consignment-below-houses", m(setp(CONS + ("grossMass",), D("22930.499")))),
    ("063-net-mass-zero", m(setp(C0 + ("netMass",), D("0.000")))),
    # goods
    ("064-hs-unknown", m(setp(I2 + ("commodity", "hs"), "847199"))),
    ("065-hs-seven-digits", m(setp(("houseConsignments", 0, "items", 2, "commodity", "hs"),
                                   "8471301"))),
    ("066-hs-missing", m(delp(C0 + ("hs",)))),
    ("067-un-number", m(setp(I2 + ("commodity", "dangerousGoods"), ["UN3480"]))),
    ("068-package-type-unknown", m(setp(I2 + ("packages", 0, "type"), "XQ"))),
    ("069-package-number-missing", m(delp(I2 + ("packages", 0, "number")))),
    ("070-bulk-with-number", m(setp(("houseConsignments", 1, "items", 1, "packages", 0, "type"),
                                    "VR"))),
    ("071-package-number-range", m(setp(I2 + ("packages", 0, "number"), 100000000))),
    ("072-item-numbering-gap",
     m(both(setp(("houseConsignments", 1, "items", 0, "declarationGoodsItemNumber"), 5),
            setp(("houseConsignments", 1, "items", 1, "declarationGoodsItemNumber"), 6),
            setp(TE0 + ("goodsReferences",), [1, 2, 3, 5, 6])))),
    ("073-item-number-twice",
     m(both(setp(("houseConsignments", 1, "items", 1, "declarationGoodsItemNumber"), 4),
            setp(TE0 + ("goodsReferences",), [1, 2, 3, 4])))),
    ("074-goods-reference-unknown", m(setp(TE0 + ("goodsReferences",), [1, 2, 3, 4, 5, 6]))),
    # equipment and seals
    ("075-seal-count", m(setp(TE0 + ("numberOfSeals",), 3))),
    ("076-no-seals-no-container",
     m(both(setp(CONS + ("containerIndicator",), False), delp(TE0 + ("containerId",)),
            setp(TE0 + ("numberOfSeals",), 0), delp(TE0 + ("seals",))))),
    ("077-seal-twice", m(setp(TE0 + ("seals",), ["KZ0417731", "KZ0417731"]))),
    ("078-container-check-digit", m(setp(TE0 + ("containerId",), "CSQU3054384"))),
    ("079-container-without-indicator", m(setp(CONS + ("containerIndicator",), False))),
    ("080-seal-too-long", m(setp(TE0 + ("seals", 1), "KZ-CUSTOMS-0417732-AB"))),
    # countries and consignment
    ("081-dispatch-at-both-levels", m(setp(H0 + ("countryOfDispatch",), "CN"))),
    ("082-destination-on-some-houses",
     m(both(delp(CONS + ("countryOfDestination",)), setp(H0 + ("countryOfDestination",), "TR")))),
    ("083-consignee-at-both-levels",
     m(setp(H1 + ("consignee",), {"id": "TR4840512397"}))),
    ("084-origin-unknown", m(setp(I2 + ("countryOfOrigin",), "XX"))),
    ("085-value-zero", m(setp(I2 + ("value", "amount"), D("0.00")))),
    ("086-transport-mode-unknown", m(setp(CONS + ("inlandMode",), "6"))),
    ("087-means-type", m(setp(CONS + ("departureTransportMeans", 0, "typeOfIdentification"),
                              "3"))),
    ("088-location-type", m(setp(CONS + ("locationOfGoods", "type"), "E"))),
    ("089-unlocode", m(setp(CONS + ("placeOfLoading", "unLocode"), "KZAL1"))),
    ("090-gnss-longitude",
     m(setp(CONS + ("locationOfGoods", "gnss"), {"latitude": "43.23890", "longitude": "76.889"}))),
    ("091-carrier-tin", m(setp(CONS + ("carrier", "id"), "151140014560"))),
    ("092-control-character", m(setp(("holder", "name"), "Steppe\tTrans Logistics LLP"))),
    ("093-trailing-space", m(setp(("holder", "name"), "Steppe Trans Logistics LLP "))),
    ("094-empty-ucr", m(setp(CONS + ("ucr",), ""))),
    ("095-description-too-long", m(setp(C0 + ("description",),
                                              ("Portable laptop computer " * 21).strip()))),
    # JSON shape
    ("100-syntax-missing-comma", '{"lrn": "STL25AK0417"\n "declarationType": "T1"}\n'),
    ("101-syntax-single-quotes", "{'lrn': 'STL25AK0417'}\n"),
    ("102-syntax-nan", '{"lrn": "STL25AK0417",\n  "security": NaN}\n'),
    ("103-syntax-trailing-comma", '{"lrn": "STL25AK0417",}\n'),
    ("104-syntax-truncated", None),  # the example cut short, below
    ("105-syntax-lone-surrogate", '{"lrn": "STL\\ud800"}\n'),
    ("106-syntax-invalid-utf8", b'{"lrn": "STL\xff"}\n'),
    ("107-syntax-leading-zero", '{"lrn": "STL25AK0417", "security": 02}\n'),
    ("108-not-an-object", "[]\n"),
    ("109-empty-document", ""),
    ("110-deep-nesting", '{"lrn": ' + "[" * 40 + "]" * 40 + "}\n"),
    ("111-unknown-member-case", m(setp(CONS + ("grossmass",), 1))),
    ("112-unknown-member", m(setp(("mrn",), "25KZ0000000000001J3"))),
    ("113-duplicate-member", None),  # the example with "lrn" twice, below
    ("114-security-as-number", m(setp(("security",), 2))),
    ("115-seals-count-as-string", m(setp(TE0 + ("numberOfSeals",), "2"))),
    ("116-mass-as-string", m(setp(CONS + ("grossMass",), "22930.500"))),
    ("117-guarantees-as-object", m(setp(("guarantees",), {"type": "1"}))),
    ("118-null-value", m(setp(CONS + ("ucr",), None))),
    ("119-missing-gross-mass", m(delp(CONS + ("grossMass",)))),
    ("120-missing-city", m(delp(("holder", "address", "city")))),
    ("121-no-packages", m(setp(I2 + ("packages",), []))),
    ("122-ten-guarantees", m(ten_guarantees)),
    ("123-hundred-seals", m(hundred_seals)),
    ("124-nul-in-string", m(setp(("lrn",), "STL25\u0000AK0417"))),
    ("125-seals-count-fraction", m(setp(TE0 + ("numberOfSeals",), D("2.5")))),
    ("126-integer-out-of-range", m(setp(TE0 + ("numberOfSeals",), Raw("99999999999999999999")))),
    ("129-routing-null-entry",  # found by fuzzing: a null entry once reached strcmp
     m(setp(CONS + ("countriesOfRouting",), ["KZ", None, "GE", "TR"]))),
    ("127-byte-order-mark", None),  # the example after a BOM, below
    ("128-trailing-data", None),  # the example followed by more text, below
]


def example_text():
    return dumps(EX) + "\n"


RAW = {
    "104-syntax-truncated": lambda: example_text()[:600],
    "113-duplicate-member": lambda: example_text().replace(
        '  "lrn": "STL25AK0417",\n', '  "lrn": "STL25AK0417",\n  "lrn": "STL25AK0418",\n', 1),
    "127-byte-order-mark": lambda: "\ufeff" + example_text(),
    "128-trailing-data": lambda: example_text() + "{}\n",
}


def render(name, spec):
    if name in RAW:
        spec = RAW[name]()
    if isinstance(spec, bytes):
        return spec
    if isinstance(spec, str):
        return spec.encode("utf-8")
    return (dumps(spec()) + "\n").encode("utf-8")


def main():
    check = "--check" in sys.argv[1:]
    os.makedirs(OUT, exist_ok=True)
    names = [n for n, _ in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    bad = 0
    for name, spec in CASES:
        data = render(name, spec)
        path = os.path.join(OUT, name + ".json")
        if check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except OSError:
                same = False
            if not same:
                print("out of date: " + path)
                bad += 1
            if not os.path.exists(os.path.join(OUT, name + ".expected")):
                print("no expected output: " + name + ".expected")
                bad += 1
        else:
            with open(path, "wb") as f:
                f.write(data)
    if check:
        known = set(names)
        for f in sorted(os.listdir(OUT)):
            if f.endswith(".json") and f[:-5] not in known:
                print("not produced by this script: " + f)
                bad += 1
        if bad:
            print("%d golden input(s) out of step; run tests/golden/make-cases.py" % bad)
            return 1
        print("%d golden inputs up to date" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
