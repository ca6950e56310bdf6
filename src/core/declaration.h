/*
 * declaration.h — kervan's model of an NCTS P5 transit declaration (the
 * content of CC015C), the data every corridor node checks and exchanges.
 *
 * The model mirrors CC015C's data groups (DOMAIN.md §5.1) with the names of
 * kervan's JSON form (docs/declaration.md). Absent optional data is NULL (or
 * a zero count); nothing is defaulted. Repeated groups are arrays with their
 * count; CC015C's "sequence number" data items are the array positions plus
 * one and are not stored.
 *
 * Memory: every string and sub-structure of one declaration lives in one
 * arena owned by the declaration, so kv_decl_free() releases everything at
 * once. The model stores no JSON pointers; validation computes them from
 * the array indices.
 *
 * Thread-safety: a declaration is not shared while being built; once built
 * it is read-only and may be read from any thread.
 */
#ifndef KV_CORE_DECLARATION_H
#define KV_CORE_DECLARATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/decimal.h"

/* Multiplicities from the CC015C XSD (51.8.6) and the DDNTA data items. */
#define KV_DECL_MAX_TRANSIT         9      /* CustomsOfficeOfTransitDeclared */
#define KV_DECL_MAX_EXIT            9      /* CustomsOfficeOfExitForTransitDeclared */
#define KV_DECL_MAX_GUARANTEES      9      /* Guarantee */
#define KV_DECL_MAX_GUARANTEE_REFS  99     /* Guarantee/GuaranteeReference */
#define KV_DECL_MAX_EQUIPMENT       9999   /* Consignment/TransportEquipment */
#define KV_DECL_MAX_SEALS           99     /* TransportEquipment/Seal */
#define KV_DECL_MAX_GOODS_REFS      9999   /* TransportEquipment/GoodsReference */
#define KV_DECL_MAX_DEPARTURE_MEANS 999    /* Consignment/DepartureTransportMeans */
#define KV_DECL_MAX_ROUTING         99     /* Consignment/CountryOfRoutingOfConsignment */
#define KV_DECL_MAX_BORDER_MEANS    9      /* Consignment/ActiveBorderTransportMeans */
#define KV_DECL_MAX_HOUSES          1999   /* Consignment/HouseConsignment */
#define KV_DECL_MAX_HOUSE_ITEMS     999    /* HouseConsignment/ConsignmentItem */
#define KV_DECL_MAX_ITEMS           1999   /* declaration goods item number 1..1999 */
#define KV_DECL_MAX_PACKAGINGS      99     /* ConsignmentItem/Packaging */
#define KV_DECL_MAX_DANGEROUS       99     /* Commodity/DangerousGoods */
#define KV_DECL_MAX_UNMODELLED      100000 /* CC015C elements kept verbatim */
#define KV_DECL_UNMODELLED_PATH_MAX 512    /* bytes of one location (CC056C errorPointer an..512) */
#define KV_DECL_UNMODELLED_XML_MAX  65536  /* bytes of one kept element */

/* A boolean that may be absent (CC015C "Flag", CL027). */
enum kv_yesno { KV_YESNO_ABSENT = 0, KV_YESNO_NO, KV_YESNO_YES };

/* An integer data item that may be absent. */
struct kv_int {
    int64_t value;
    bool set;
};

struct kv_address {
    const char *street;   /* streetAndNumber an..70 */
    const char *postcode; /* an..17 */
    const char *city;     /* an..35 */
    const char *country;  /* a2, CL248 */
};

struct kv_contact {
    const char *name;  /* an..70 */
    const char *phone; /* an..35 */
    const char *email; /* an..256 */
};

/* Consignor, consignee (identification number, name, address, contact). */
struct kv_party {
    const char *id;   /* an..17 */
    const char *name; /* an..70 */
    struct kv_address *address;
    struct kv_contact *contact;
};

struct kv_holder {
    const char *id;            /* identificationNumber an..17 */
    const char *tir_holder_id; /* TIRHolderIdentificationNumber an..17 */
    const char *name;          /* an..70 */
    struct kv_address *address;
    struct kv_contact *contact;
};

struct kv_representative {
    const char *id;     /* an..17 */
    const char *status; /* n1, CL094 */
    struct kv_contact *contact;
};

struct kv_carrier {
    const char *id; /* an..17, TIN with country prefix */
    struct kv_contact *contact;
};

struct kv_transit_office {
    const char *office;  /* referenceNumber an8 */
    const char *arrival; /* arrivalDateAndTimeEstimated YYYY-MM-DDThh:mm:ss */
};

struct kv_guarantee_ref {
    const char *grn;           /* an..24 */
    const char *access_code;   /* an4 */
    struct kv_decimal *amount; /* amountToBeCovered n..16,2 */
    const char *currency;      /* a3, CL048 */
};

struct kv_guarantee {
    const char *type;      /* an1, CL251 */
    const char *other_ref; /* otherGuaranteeReference an..35 */
    struct kv_guarantee_ref *refs;
    size_t n_refs;
};

struct kv_equipment {
    const char *container_id;      /* an..17 */
    struct kv_int number_of_seals; /* n..4 */
    const char **seals;            /* Seal/identifier an..20 */
    size_t n_seals;
    int64_t *goods_refs; /* GoodsReference/declarationGoodsItemNumber */
    size_t n_goods_refs;
};

struct kv_gnss {
    const char *latitude;  /* an..17 */
    const char *longitude; /* an..17 */
};

struct kv_location {
    const char *type;          /* typeOfLocation a1, CL347 */
    const char *qualifier;     /* qualifierOfIdentification a1, CL326 */
    const char *authorisation; /* authorisationNumber an..35 */
    const char *unlocode;      /* an..17, CL244 */
    const char *office;        /* CustomsOffice/referenceNumber an8 */
    struct kv_gnss *gnss;
    struct kv_address *address;
};

struct kv_transport_means {
    const char *type_of_id;  /* typeOfIdentification n2, CL750 */
    const char *id;          /* identificationNumber an..35 */
    const char *nationality; /* a2, CL165 */
};

struct kv_border_means {
    const char *office;         /* customsOfficeAtBorderReferenceNumber an8 */
    const char *type_of_id;     /* n2, CL219 */
    const char *id;             /* an..35 */
    const char *nationality;    /* a2, CL165 */
    const char *conveyance_ref; /* conveyanceReferenceNumber an..17 */
};

struct kv_place {
    const char *unlocode; /* an..17 */
    const char *country;  /* a2 */
    const char *location; /* an..35 */
};

struct kv_consignment {
    const char *country_of_dispatch;    /* a2, CL008 */
    const char *country_of_destination; /* a2, CL008 */
    enum kv_yesno container_indicator;
    const char *inland_mode;       /* n1, CL218 */
    const char *border_mode;       /* n1, CL218 */
    struct kv_decimal *gross_mass; /* n..16,6 kg */
    const char *ucr;               /* an..35 */
    struct kv_carrier *carrier;
    struct kv_party *consignor;
    struct kv_party *consignee;
    struct kv_equipment *equipment;
    size_t n_equipment;
    struct kv_location *location;
    struct kv_transport_means *departure_means;
    size_t n_departure_means;
    const char **routing; /* CountryOfRoutingOfConsignment/country, in itinerary order */
    size_t n_routing;
    struct kv_border_means *border_means;
    size_t n_border_means;
    struct kv_place *loading;
    struct kv_place *unloading;
};

struct kv_commodity {
    const char *description; /* descriptionOfGoods an..512 */
    const char *hs;          /* harmonizedSystemSubHeadingCode an6, CL152 */
    const char **dangerous;  /* DangerousGoods/UNNumber an4 */
    size_t n_dangerous;
    struct kv_decimal *gross_mass; /* GoodsMeasure/grossMass n..16,6 kg */
    struct kv_decimal *net_mass;   /* GoodsMeasure/netMass n..16,6 kg */
};

struct kv_packaging {
    const char *type;     /* typeOfPackages an2, CL017 */
    struct kv_int number; /* numberOfPackages n..8 */
    const char *marks;    /* shippingMarks an..512 */
};

/* kervan extension (not in CC015C): the declared value of an item. */
struct kv_money {
    struct kv_decimal *amount; /* n..16,2 */
    const char *currency;      /* a3, ISO 4217 */
};

struct kv_item {
    struct kv_int number; /* declarationGoodsItemNumber 1..1999 */
    struct kv_commodity *commodity;
    struct kv_packaging *packages;
    size_t n_packages;
    struct kv_money *value; /* kervan extension, for risk analysis */
    const char *origin;     /* kervan extension: country of origin, a2 */
};

struct kv_house {
    const char *country_of_dispatch;
    const char *country_of_destination;
    struct kv_decimal *gross_mass;
    const char *ucr;
    struct kv_party *consignor;
    struct kv_party *consignee;
    struct kv_item *items;
    size_t n_items;
};

/*
 * A CC015C element kervan has no member for, kept verbatim so that it is
 * written back on export (docs/ncts.md). `path` locates it like an NCTS
 * error pointer: "/CC015C/Consignment/HouseConsignment[1]/PreviousDocument[2]"
 * (element names from the root, "[n]" on elements that may repeat, n being
 * the position among same-named siblings). `xml` is the element itself,
 * compact, e.g. "<PreviousDocument><sequenceNumber>2</sequenceNumber>...".
 * A sequence number, goods item number or message type that differs from
 * what kervan would write is kept the same way, so that it is not lost.
 */
struct kv_ncts_fragment {
    const char *path;
    const char *xml;
};

/*
 * The NCTS message a declaration came in (or goes out) as: the CC015C
 * header and the elements kervan keeps verbatim. Absent (NULL) for a
 * declaration written in kervan's JSON form from scratch.
 */
struct kv_ncts_info {
    const char *sender;         /* messageSender an..35 */
    const char *recipient;      /* messageRecipient an..35 */
    const char *prepared;       /* preparationDateAndTime YYYY-MM-DDThh:mm:ss */
    const char *message_id;     /* messageIdentification an..35 */
    const char *correlation_id; /* correlationIdentifier an..35 */
    const char *phase_id;       /* the root's PhaseID attribute, e.g. "NCTS5.0" */
    struct kv_ncts_fragment *unmodelled;
    size_t n_unmodelled;
};

struct kv_arena;

struct kv_declaration {
    struct kv_arena *arena; /* owns everything below */

    /* TRANSIT OPERATION */
    const char *lrn;                         /* an..22 */
    const char *declaration_type;            /* an..5, CL231 */
    const char *additional_declaration_type; /* a1, CL042 */
    const char *tir_carnet_number;           /* an..12 */
    const char *security;                    /* n1, CL217 */
    enum kv_yesno reduced_dataset;
    enum kv_yesno binding_itinerary;
    const char *limit_date; /* YYYY-MM-DD */

    const char *office_of_departure;   /* an8 */
    const char *office_of_destination; /* an8 */
    struct kv_transit_office *transit;
    size_t n_transit;
    const char **exit_for_transit; /* an8 each */
    size_t n_exit;

    struct kv_holder *holder;
    struct kv_representative *representative;
    struct kv_guarantee *guarantees;
    size_t n_guarantees;
    struct kv_consignment *consignment;
    struct kv_house *houses;
    size_t n_houses;

    /* The NCTS message (CC015C) header and unmodelled elements, or NULL. */
    struct kv_ncts_info *ncts;
};

/*
 * Creates an empty declaration with its arena. Returns NULL when out of
 * memory. Free with kv_decl_free().
 */
struct kv_declaration *kv_decl_new(void);

/* Frees a declaration and everything in its arena; NULL is a no-op. */
void kv_decl_free(struct kv_declaration *d);

/*
 * Allocates n zeroed bytes (n > 0) in the declaration's arena, aligned for
 * any object. Returns NULL when out of memory or when the arena would grow
 * beyond KV_DECL_ARENA_MAX.
 */
void *kv_decl_alloc(struct kv_declaration *d, size_t n);

/*
 * Allocates an array of `count` zeroed elements of `size` bytes, checking
 * the multiplication. Returns NULL on overflow or out of memory (or when
 * count is 0).
 */
void *kv_decl_calloc(struct kv_declaration *d, size_t count, size_t size);

/* Copies len bytes of s plus a NUL into the arena; NULL when out of memory. */
char *kv_decl_strdup(struct kv_declaration *d, const char *s, size_t len);

/* Bytes allocated so far in the arena (for tests and limits). */
size_t kv_decl_arena_size(const struct kv_declaration *d);

/* Upper bound on one declaration's arena: 64 MiB. */
#define KV_DECL_ARENA_MAX (64u * 1024u * 1024u)

/* Total number of goods items over all house consignments. */
size_t kv_decl_item_count(const struct kv_declaration *d);

#endif
