"""A real-shaped line-level export for benchmarks: a UK gift wholesaler's invoice lines.

    python benchmarks/line_export.py OUT.csv [--invoices 23000] [--members 5500] [--seed 7]

Writes the layout of the public "Online Retail II" export (one row per invoice line, headers
``Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country``), with
its traits: invoices of 20-30 lines from a catalogue of about 4,000 products grouped in
families of colour/pattern variants (``85099B``, ``85099C``, ...) that are bought together,
themes a customer keeps to, cancellations (``C``-prefixed invoices with negative quantities of
an earlier invoice's products), postage and fee lines (``POST``, ``DOT``, ``C2``, ``M``,
``BANK CHARGES``, ``AMAZONFEE``, ``D``), guest lines without a customer id, and mostly UK
customers. The defaults give about half a million lines, ~4,000 members and ~20,000 invoices:
the export the issue timed at 14 minutes for ``memberlens run``. Fixed seed, numpy only.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

WORDS = [
    "RETROSPOT",
    "VINTAGE",
    "REGENCY",
    "PARTY",
    "BUNTING",
    "HEART",
    "LANTERN",
    "DOILY",
    "SPACEBOY",
    "DOLLY",
    "GIRL",
    "WOODLAND",
    "JAM",
    "MAKING",
    "STRAWBERRY",
    "CHARLOTTE",
    "POPPY",
    "SKULL",
    "PAISLEY",
    "FLORAL",
    "ALPHABET",
    "CHRISTMAS",
    "SCANDINAVIAN",
    "GINGHAM",
    "POLKADOT",
    "ENAMEL",
    "ZINC",
    "GLASS",
    "WICKER",
    "HANGING",
    "HOOK",
]
KINDS = [
    "JUMBO BAG",
    "LUNCH BAG",
    "CAKE CASES",
    "PAPER NAPKINS",
    "MUG",
    "TEA TOWEL",
    "CANDLE HOLDER",
    "WATER BOTTLE",
    "ALARM CLOCK",
    "PLATE",
    "BOWL",
    "CUSHION COVER",
    "WALL SIGN",
    "STORAGE TIN",
    "GIFT WRAP",
    "BUNTING",
    "SPOTTY CUP",
    "PURSE",
    "HAND WARMER",
    "SHOPPER",
    "LUNCH BOX",
    "TRINKET BOX",
    "COAT RACK",
    "DOORMAT",
    "NIGHT LIGHT",
]
COLOURS = [
    "RED",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "BLACK",
    "WHITE",
    "SKY",
    "BLUE",
    "ORANGE",
    "PURPLE",
    "YELLOW",
]
#: non-product lines (code, description, typical price, share of invoices carrying one)
FEES = (
    ("POST", "POSTAGE", 18.0, 0.06),
    ("DOT", "DOTCOM POSTAGE", 11.0, 0.02),
    ("C2", "CARRIAGE", 50.0, 0.005),
    ("M", "Manual", 2.5, 0.01),
    ("BANK CHARGES", "Bank Charges", 15.0, 0.002),
    ("AMAZONFEE", "AMAZON FEE", 30.0, 0.001),
)
COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain", "Belgium")
COUNTRY_SHARE = (0.90, 0.03, 0.025, 0.02, 0.01, 0.008, 0.007)
HEADER = (
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
)


def catalogue(rng: np.random.Generator, n_products: int, n_themes: int):
    """Products in families of 1-12 variants; each family belongs to one theme."""
    codes, names, family, price = [], [], [], []
    fam = 0
    while len(codes) < n_products:
        variants = int(min(12, 1 + rng.geometric(0.3)))
        base = 20000 + 37 * fam
        kind = KINDS[fam % len(KINDS)]
        word = WORDS[(fam // len(KINDS) + fam) % len(WORDS)]
        fam_price = float(np.round(rng.lognormal(0.8, 0.7), 2)) + 0.29
        for v in range(variants):
            suffix = "" if variants == 1 else chr(ord("A") + v)
            codes.append(f"{base}{suffix}")
            colour = "" if variants == 1 else f" {COLOURS[v % len(COLOURS)]}"
            names.append(f"{kind} {word}{colour}")
            family.append(fam)
            price.append(fam_price)
        fam += 1
    family_arr = np.array(family[:n_products])
    theme = rng.integers(0, n_themes, size=fam)
    return (
        np.array(codes[:n_products], dtype=object),
        np.array(names[:n_products], dtype=object),
        family_arr,
        theme[family_arr],
        np.array(price[:n_products]),
    )


def generate(
    path: Path,
    *,
    invoices: int = 23_000,
    members: int = 5_500,
    products: int = 4_000,
    themes: int = 60,
    big_share: float = 0.012,
    seed: int = 7,
) -> dict[str, int]:
    """Write the export to ``path``; returns counts (lines, invoices, members, products)."""
    rng = np.random.default_rng(seed)
    codes, names, family, theme, price = catalogue(rng, products, themes)
    popularity = rng.zipf(1.6, size=products).clip(1, 500).astype(float)
    best = np.argsort(-popularity, kind="stable")[:800]
    best_p = popularity[best] ** 0.5 / (popularity[best] ** 0.5).sum()
    by_theme = [np.flatnonzero(theme == t) for t in range(themes)]
    by_family: dict[int, np.ndarray] = {}
    for f in np.unique(family):
        by_family[int(f)] = np.flatnonzero(family == f)
    member_ids = np.arange(12346, 12346 + members)
    member_themes = rng.integers(0, themes, size=(members, 4))
    member_weight = rng.pareto(1.2, size=members) + 1.0
    member_country = rng.choice(len(COUNTRIES), size=members, p=COUNTRY_SHARE)
    start = np.datetime64("2009-12-01T07:00")
    minutes = np.sort(rng.integers(0, 740 * 24 * 60, size=invoices))
    buyer = rng.choice(members, size=invoices, p=member_weight / member_weight.sum())
    guest = rng.random(invoices) < 0.12
    rows: list[tuple] = []
    history: dict[int, list[tuple[str, np.ndarray]]] = {}
    for i in range(invoices):
        when = str(start + np.timedelta64(int(minutes[i]), "m")).replace("T", " ") + ":00"
        m = int(buyer[i])
        customer = "" if guest[i] else str(member_ids[m])
        country = COUNTRIES[0] if guest[i] else COUNTRIES[member_country[m]]
        if history.get(m) and not guest[i] and rng.random() < 0.08:  # a cancellation
            invoice_of, bought = history[m][int(rng.integers(len(history[m])))]
            back = bought[: int(rng.integers(1, min(5, bought.size) + 1))]
            for p in back:
                qty = -int(rng.integers(1, 13))
                rows.append(
                    (f"C{invoice_of}", codes[p], names[p], qty, when, price[p], customer, country)
                )
            continue
        n_lines = int(rng.integers(20, 31))
        chosen: list[int] = []
        if rng.random() < big_share:  # a wholesaler's big order from the best sellers
            n_lines = int(rng.integers(100, 400))
            chosen = [int(v) for v in rng.choice(best, size=n_lines, replace=False, p=best_p)]
        mine = member_themes[m][rng.permutation(4)[: int(rng.integers(2, 4))]]
        while len(chosen) < n_lines:
            if rng.random() < 0.15:  # a best seller from anywhere
                chosen.append(int(rng.choice(products, p=popularity / popularity.sum())))
                continue
            pool = by_theme[int(rng.choice(mine))]
            if not pool.size:
                continue
            anchor = int(rng.choice(pool))
            variants = by_family[int(family[anchor])]
            take = variants[: int(rng.integers(1, min(4, variants.size) + 1))]
            chosen.extend(int(v) for v in take)
        picked = np.array(list(dict.fromkeys(chosen))[:n_lines])
        invoice = str(489434 + i)
        for p in picked:
            qty = int(rng.choice([1, 2, 3, 4, 6, 12, 24]))
            rows.append((invoice, codes[p], names[p], qty, when, price[p], customer, country))
        for code, desc, fee, share in FEES:
            if rng.random() < share * (4 if country != COUNTRIES[0] and code == "POST" else 1):
                rows.append((invoice, code, desc, 1, when, fee, customer, country))
        if rng.random() < 0.003:  # a discount line, booked as its own C-invoice
            rows.append((f"C{invoice}", "D", "Discount", -1, when, 5.0, customer, country))
        if not guest[i]:
            history.setdefault(m, []).append((invoice, picked))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for r in rows:
            writer.writerow((*r[:5], f"{r[5]:.2f}", *r[6:]))
    return {
        "lines": len(rows),
        "invoices": len({r[0] for r in rows}),
        "members": len({r[6] for r in rows if r[6]}),
        "products": len({r[1] for r in rows}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--invoices", type=int, default=23_000)
    parser.add_argument("--members", type=int, default=5_500)
    parser.add_argument("--products", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    counts = generate(
        args.out,
        invoices=args.invoices,
        members=args.members,
        products=args.products,
        seed=args.seed,
    )
    print(counts)


if __name__ == "__main__":
    main()
