"""Members: profile attributes, latent purchase parameters and identities, one block at a time.

Geography is weighted like a Chinese e-commerce customer base (coastal first-tier and new
first-tier cities heavy); phones are well-formed (``1[3-9]`` + 9 digits) and unique; e-mails are
unique; names, phones, e-mails, openids and device ids are fake (PII to be masked at ingest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import special

from memberlens.simulate import _columns as col
from memberlens.simulate.calendar import RetailCalendar
from memberlens.simulate.catalogue import CATEGORY_SHARES
from memberlens.simulate.parameters import ShopParameters

#: (province, city, relative weight)
CITIES: tuple[tuple[str, str, float], ...] = (
    ("广东省", "深圳市", 3.5),
    ("广东省", "广州市", 3.0),
    ("广东省", "东莞市", 1.2),
    ("广东省", "佛山市", 1.0),
    ("上海市", "上海市", 4.0),
    ("北京市", "北京市", 3.5),
    ("浙江省", "杭州市", 2.5),
    ("浙江省", "宁波市", 1.0),
    ("浙江省", "温州市", 0.8),
    ("江苏省", "苏州市", 1.8),
    ("江苏省", "南京市", 1.6),
    ("江苏省", "无锡市", 0.8),
    ("四川省", "成都市", 2.2),
    ("湖北省", "武汉市", 1.8),
    ("重庆市", "重庆市", 1.5),
    ("河南省", "郑州市", 1.3),
    ("山东省", "青岛市", 1.1),
    ("山东省", "济南市", 0.9),
    ("湖南省", "长沙市", 1.2),
    ("陕西省", "西安市", 1.2),
    ("天津市", "天津市", 1.0),
    ("福建省", "厦门市", 0.8),
    ("福建省", "福州市", 0.8),
    ("安徽省", "合肥市", 0.9),
    ("河北省", "石家庄市", 0.7),
    ("辽宁省", "沈阳市", 0.7),
    ("辽宁省", "大连市", 0.6),
    ("江西省", "南昌市", 0.6),
    ("云南省", "昆明市", 0.6),
    ("广西壮族自治区", "南宁市", 0.5),
    ("黑龙江省", "哈尔滨市", 0.5),
    ("山西省", "太原市", 0.4),
    ("吉林省", "长春市", 0.4),
    ("贵州省", "贵阳市", 0.4),
    ("海南省", "海口市", 0.2),
    ("甘肃省", "兰州市", 0.2),
    ("内蒙古自治区", "呼和浩特市", 0.2),
    ("新疆维吾尔自治区", "乌鲁木齐市", 0.2),
    ("宁夏回族自治区", "银川市", 0.1),
    ("青海省", "西宁市", 0.1),
    ("西藏自治区", "拉萨市", 0.05),
)
CHANNELS = ("wechat_mini", "tmall", "jd", "douyin", "app", "store", "web")
CHANNEL_SHARES = np.array([0.28, 0.22, 0.15, 0.12, 0.10, 0.08, 0.05])
GENDERS = ("F", "M", "U")
GENDER_SHARES = np.array([0.62, 0.33, 0.05])
_SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "高",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "邓",
)
_SURNAME_W = np.array(
    [
        7.1,
        7.0,
        6.7,
        5.4,
        4.5,
        3.1,
        2.2,
        2.0,
        1.9,
        1.9,
        1.7,
        1.5,
        1.3,
        1.3,
        1.3,
        1.2,
        1.2,
        1.2,
        1.1,
        0.9,
        0.9,
        0.8,
        0.8,
        0.8,
        0.7,
        0.7,
        0.6,
        0.6,
    ]
)
_GIVEN = tuple(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂婷雪琳晨宇浩然欣怡子涵梓萱一诺思远佳"
)
_PHONE_PREFIXES = tuple(
    str(x)
    for x in (
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        155,
        156,
        157,
        158,
        159,
        166,
        175,
        176,
        177,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        191,
        198,
        199,
    )
)
_MAIL_DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "gmail.com",
    "outlook.com",
    "foxmail.com",
    "icloud.com",
)
_OPENID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_MAIL_SHARES = np.array([0.45, 0.2, 0.08, 0.04, 0.05, 0.05, 0.05, 0.08])


@dataclass(frozen=True)
class MemberBlock:
    """One block of members: arrays per member (local index 0..n-1)."""

    number: np.ndarray  # global member number (1-based)
    member_id: pa.Array
    registered: np.ndarray  # days since start
    gender: np.ndarray
    city: np.ndarray
    channel: np.ndarray
    lam: np.ndarray  # BG/NBD purchase rate per day
    p: np.ndarray  # BG/NBD dropout probability
    nu: np.ndarray  # gamma-gamma rate of spend
    buyer: np.ndarray
    engagement: np.ndarray  # standard-normal latent driving the funnel and check-ins
    satisfaction: np.ndarray  # standard-normal latent driving ratings and survey scores
    funnel: np.ndarray  # (n, 3): P(click | view), P(cart | click), P(order | cart)
    preferences: np.ndarray  # (n, n_categories) category preferences, rows sum to 1
    device_id: pa.Array  # main device (anonymous_id of logged-out sessions)

    @property
    def n(self) -> int:
        return len(self.number)


def member_ids(number: np.ndarray) -> pa.Array:
    return col.ids("M", number, 9)


def draw_members(
    rng: np.random.Generator, number: np.ndarray, cal: RetailCalendar, params: ShopParameters
) -> MemberBlock:
    """Latent and profile draws for the members numbered ``number``."""
    n = len(number)
    pp, sp, bp = params.purchases, params.spend, params.baskets
    registered = cal.sample(rng, np.zeros(n), np.full(n, float(cal.days)))
    gender = rng.choice(3, size=n, p=GENDER_SHARES)
    city_w = np.array([c[2] for c in CITIES])
    city = rng.choice(len(CITIES), size=n, p=city_w / city_w.sum())
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    lam = rng.gamma(pp.r, 1.0 / pp.alpha, n)
    p = rng.beta(pp.a, pp.b, n)
    nu = rng.gamma(sp.q, 1.0 / sp.gamma, n)
    buyer = rng.random(n) < pp.buyer_share
    z_lam = (np.log(lam) - (special.digamma(pp.r) - np.log(pp.alpha))) / np.sqrt(
        special.polygamma(1, pp.r)
    )
    engagement = 0.5 * np.clip(z_lam, -4, 4) + np.sqrt(0.75) * rng.standard_normal(n)
    base = np.array([[-0.3, -0.9, -0.6]])
    funnel = special.expit(base + 0.5 * engagement[:, None] + 0.3 * rng.standard_normal((n, 3)))
    shape = bp.preference_concentration * CATEGORY_SHARES.shape[1] * CATEGORY_SHARES[gender]
    g = rng.gamma(shape) + 1e-12
    preferences = g / g.sum(axis=1, keepdims=True)
    device = col.random_text(rng, n, 32, "0123456789abcdef")
    satisfaction = rng.standard_normal(n)
    return MemberBlock(
        number=number,
        member_id=member_ids(number),
        registered=registered,
        gender=gender,
        city=city,
        channel=channel,
        lam=lam,
        p=p,
        nu=nu,
        buyer=buyer,
        engagement=engagement,
        satisfaction=satisfaction,
        funnel=funnel,
        preferences=preferences,
        device_id=device,
    )


def _phones(rng: np.random.Generator, number: np.ndarray) -> pa.Array:
    # unique: the last 8 digits are a bijection of the member number modulo 10**8
    suffix = (number * 7919 + 12345) % 10**8
    prefix = col.labels(_PHONE_PREFIXES, rng.integers(0, len(_PHONE_PREFIXES), len(number)))
    return col.concat(prefix, col.ids("", suffix, 8))


def _emails(rng: np.random.Generator, number: np.ndarray) -> pa.Array:
    n = len(number)
    domain = rng.choice(len(_MAIL_DOMAINS), size=n, p=_MAIL_SHARES)
    qq_number = col.ids("", 10_000_000 + (number * 104729 + 777) % 900_000_000, 8)
    letters = col.concat(
        col.random_text(rng, n, 5, "abcdefghijklmnopqrstuvwxyz"),
        col.ids("", (number * 7907 + 31) % 10**8, 6),
    )
    local = pa.array(
        np.where(
            domain == 0,
            qq_number.to_numpy(zero_copy_only=False),
            letters.to_numpy(zero_copy_only=False),
        ),
        type=pa.string(),
    )
    return col.concat(local, pa.scalar("@"), col.labels(_MAIL_DOMAINS, domain))


def members_table(rng: np.random.Generator, m: MemberBlock, cal: RetailCalendar) -> pa.Table:
    """The canonical ``members`` rows of a block."""
    n = m.n
    age = 18.0 + rng.gamma(4.0, 3.5, n)
    has_birthday = rng.random(n) < 0.85
    birthday = cal.days - age * 365.25
    given_len = 1 + (rng.random(n) < 0.7)
    g1 = col.labels(_GIVEN, rng.integers(0, len(_GIVEN), n))
    g2 = col.labels(_GIVEN, rng.integers(0, len(_GIVEN), n), valid=given_len == 2)
    surname = col.labels(_SURNAMES, rng.choice(len(_SURNAMES), n, p=_SURNAME_W / _SURNAME_W.sum()))
    name = col.concat(surname, g1, pc.fill_null(g2, ""))
    has_email = rng.random(n) < 0.55
    email = _emails(rng, m.number)
    return col.table(
        "members",
        {
            "member_id": m.member_id,
            "registered_at": col.timestamps(cal.start, m.registered),
            "birthday": col.dates(cal.start, birthday, valid=has_birthday),
            "gender": col.labels(GENDERS, m.gender),
            "province": col.labels([c[0] for c in CITIES], m.city),
            "city": col.labels([c[1] for c in CITIES], m.city),
            "channel": col.labels(CHANNELS, m.channel),
            "name": name,
            "phone": _phones(rng, m.number),
            "email": pc.if_else(pa.array(has_email), email, pa.scalar(None, pa.string())),
            "country": pa.array(np.full(n, "CN")),
        },
        n,
    )


def identities_table(rng: np.random.Generator, m: MemberBlock, members: pa.Table) -> pa.Table:
    """Identifiers of each member: phone, e-mail, WeChat openid, devices and loyalty card."""
    n = m.n
    wechat = np.asarray(CHANNELS)[m.channel] == "wechat_mini"
    has_openid = wechat | (rng.random(n) < 0.4)
    app_like = np.isin(np.asarray(CHANNELS)[m.channel], ["app", "wechat_mini", "douyin"])
    has_device = app_like | (rng.random(n) < 0.5)
    second_device = has_device & (rng.random(n) < 0.3)
    has_card = (np.asarray(CHANNELS)[m.channel] == "store") | (rng.random(n) < 0.1)
    email = members.column("email").combine_chunks()
    parts = [
        (np.ones(n, bool), "phone", members.column("phone").combine_chunks()),
        (pc.is_valid(email).to_numpy(zero_copy_only=False), "email", email),
        (has_openid, "openid", col.concat(pa.scalar("o"), col.random_text(rng, n, 27, _OPENID))),
        (has_device, "device", m.device_id),
        (second_device, "device", col.random_text(rng, n, 32, "0123456789abcdef")),
        (has_card, "card", col.ids("86", m.number, 14)),
    ]
    local = np.concatenate([np.flatnonzero(mask) for mask, _, _ in parts])
    kind = np.concatenate([np.full(int(mask.sum()), i) for i, (mask, _, _) in enumerate(parts)])
    values = pa.concat_arrays([v.filter(pa.array(mask)) for mask, _, v in parts])
    order = np.lexsort((kind, local))
    return col.table(
        "identities",
        {
            "member_id": m.member_id.take(pa.array(local[order])),
            "id_type": col.labels([t for _, t, _ in parts], kind[order]),
            "id_value": values.take(pa.array(order)),
        },
        len(order),
    )
