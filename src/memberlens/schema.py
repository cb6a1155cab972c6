"""The data contract, declared once as data.

Every canonical table of ``DESIGN.md`` is a :class:`TableSpec` listing its fields with their type,
whether they are required, the header synonyms a user's export may carry (English and Chinese) and
whether the field holds personal data. Mapping, validation, the warehouse DDL and the docs
(``docs/data-contract.md``) are all driven from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal["string", "timestamp", "date", "decimal", "integer", "float"]
PiiKind = Literal["phone", "email", "name", "id_number", "device", "address"]

#: SQL types of the warehouse (DuckDB dialect) for each field type. Money is DECIMAL(18, 2) so that
#: sums agree exactly between engines (DESIGN.md, engine notes).
SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "decimal": "DECIMAL(18,2)",
    "integer": "BIGINT",
    "float": "DOUBLE",
}

#: Ibis type names for the same field types.
IBIS_TYPES: dict[str, str] = {
    "string": "string",
    "timestamp": "timestamp",
    "date": "date",
    "decimal": "decimal(18, 2)",
    "integer": "int64",
    "float": "float64",
}


@dataclass(frozen=True)
class FieldSpec:
    """One canonical column."""

    name: str
    type: FieldType
    description: str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    pii: PiiKind | None = None
    #: canonical value -> accepted spellings (case-insensitive); empty means free text.
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: a negative number is allowed (only meaningful for numbers).
    allow_negative: bool = True


@dataclass(frozen=True)
class TableSpec:
    """One canonical table."""

    name: str
    description: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...] = ()
    #: the field that dates a row (used for date ranges and future/too-old checks).
    time_field: str | None = None

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"table {self.name!r} has no field {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def pii_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.pii)


def _f(name: str, type: FieldType, description: str, *synonyms: str, **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, type=type, description=description, synonyms=synonyms, **kw)


_MEMBER_ID = (
    "member id",
    "memberid",
    "customer id",
    "customer_id",
    "customerid",
    "customer",
    "user id",
    "user_id",
    "userid",
    "buyer id",
    "client id",
    "vip id",
    "card no",
    "household",
    "household key",
    "household id",
    "hh key",
    "cust id",
    "customer no",
    "customer number",
    "client",
    "account id",
    "loyalty id",
    "loyalty card",
    "shopper id",
    "buyer",
    "会员id",
    "会员编号",
    "会员号",
    "会员卡号",
    "客户id",
    "客户编号",
    "用户id",
    "用户编号",
    "买家id",
    "顾客id",
    "会员",
)
_ORDER_ID = (
    "order id",
    "orderid",
    "order no",
    "order number",
    "invoice",
    "invoiceno",
    "invoice no",
    "transaction id",
    "transaction",
    "transaction no",
    "trans id",
    "basket",
    "basket id",
    "ticket",
    "ticket no",
    "receipt",
    "receipt no",
    "order",
    "订单号",
    "订单编号",
    "订单id",
    "单号",
    "交易号",
    "流水号",
    "小票号",
    "发票号",
)
_PRODUCT_ID = (
    "product id",
    "productid",
    "sku",
    "sku id",
    "item id",
    "itemid",
    "stockcode",
    "stock code",
    "article",
    "article number",
    "item number",
    "item no",
    "upc",
    "ean",
    "barcode",
    "商品id",
    "商品编号",
    "商品编码",
    "货号",
    "sku编码",
    "产品id",
)
_STORE_ID = ("store", "shop", "shop id", "门店", "门店id", "门店编号", "店铺")
_COUPON_ID = (
    "coupon",
    "coupon upc",
    "coupon code",
    "voucher",
    "voucher id",
    "优惠券id",
    "券码",
    "券id",
)

ORDER_STATUS = {
    "paid": (
        "paid",
        "complete",
        "completed",
        "success",
        "done",
        "delivered",
        "shipped",
        "valid",
        "已支付",
        "已付款",
        "支付成功",
        "交易成功",
        "已完成",
        "完成",
        "已发货",
        "已签收",
        "成功",
    ),
    "refunded": (
        "refunded",
        "refund",
        "returned",
        "return",
        "退款",
        "已退款",
        "退货",
        "已退货",
        "退款成功",
    ),
    "cancelled": (
        "cancelled",
        "canceled",
        "cancel",
        "void",
        "closed",
        "已取消",
        "取消",
        "交易关闭",
        "已关闭",
    ),
}

GENDER = {
    "F": ("f", "female", "woman", "w", "女", "女性", "2"),
    "M": ("m", "male", "man", "男", "男性", "1"),
    "U": ("u", "unknown", "other", "未知", "保密", "其他", "0"),
}

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            name="members",
            description="One row per member: registration and profile attributes.",
            key=("member_id",),
            time_field="registered_at",
            fields=(
                _f("member_id", "string", "Member identifier.", *_MEMBER_ID, required=True),
                _f(
                    "registered_at",
                    "timestamp",
                    "Registration time.",
                    "registered",
                    "register time",
                    "registration date",
                    "signup date",
                    "join date",
                    "created at",
                    "注册时间",
                    "注册日期",
                    "入会时间",
                    "开卡时间",
                    "入会日期",
                ),
                _f(
                    "birthday",
                    "date",
                    "Date of birth.",
                    "birth date",
                    "date of birth",
                    "dob",
                    "生日",
                    "出生日期",
                ),
                _f(
                    "birth_month",
                    "integer",
                    "Month of birth (1-12; kept for birthday campaigns when the birthday is not).",
                    "birth month",
                    "生日月份",
                    "出生月份",
                    allow_negative=False,
                ),
                _f(
                    "birth_day",
                    "integer",
                    "Day of the month of birth (1-31).",
                    "生日日",
                    allow_negative=False,
                ),
                _f("gender", "string", "F, M or U.", "sex", "性别", values=GENDER),
                _f("province", "string", "Province (省).", "state", "region", "省份", "省"),
                _f("city", "string", "City (市).", "城市", "市"),
                _f(
                    "channel",
                    "string",
                    "Registration channel.",
                    "source",
                    "register channel",
                    "注册渠道",
                    "来源渠道",
                    "渠道",
                ),
                _f(
                    "name",
                    "string",
                    "Member name.",
                    "member name",
                    "customer name",
                    "姓名",
                    "会员姓名",
                    "客户姓名",
                    pii="name",
                ),
                _f(
                    "phone",
                    "string",
                    "Mobile phone.",
                    "mobile",
                    "phone number",
                    "telephone",
                    "cellphone",
                    "手机号",
                    "手机",
                    "手机号码",
                    "电话",
                    "联系电话",
                    pii="phone",
                ),
                _f(
                    "email",
                    "string",
                    "E-mail address.",
                    "e-mail",
                    "mail",
                    "email address",
                    "邮箱",
                    "电子邮箱",
                    pii="email",
                ),
                _f(
                    "id_number",
                    "string",
                    "National ID number.",
                    "id card",
                    "身份证号",
                    "身份证",
                    "证件号",
                    pii="id_number",
                ),
                _f("country", "string", "Country.", "国家"),
                _f(
                    "age_band",
                    "string",
                    "Age band as the export states it (e.g. 25-34), when there is no birthday.",
                    "age desc",
                    "age group",
                    "age range",
                    "age",
                    "年龄段",
                    "年龄",
                ),
                _f(
                    "income_band",
                    "string",
                    "Income band (e.g. 50-74K).",
                    "income desc",
                    "income",
                    "income group",
                    "收入",
                    "收入水平",
                ),
                _f(
                    "household_size",
                    "string",
                    "Household size as exported (1, 2, 5+).",
                    "household size desc",
                    "household size",
                    "hh size",
                    "家庭人数",
                ),
                _f(
                    "marital_status",
                    "string",
                    "Marital status as exported.",
                    "marital status code",
                    "marital",
                    "婚姻状况",
                ),
                _f(
                    "homeowner",
                    "string",
                    "Home ownership as exported.",
                    "homeowner desc",
                    "home owner",
                ),
                _f(
                    "kids",
                    "string",
                    "Children in the household as exported.",
                    "kid category desc",
                    "children",
                    "kids category",
                    "子女",
                ),
                _f(
                    "tier",
                    "string",
                    "Membership level in the shop's own programme.",
                    "member level",
                    "membership level",
                    "level",
                    "会员等级",
                    "等级",
                ),
                _f(
                    "points",
                    "float",
                    "Points balance.",
                    "points balance",
                    "积分余额",
                    "积分",
                ),
            ),
        ),
        TableSpec(
            name="orders",
            description="One row per order; `amount` is what was paid after discounts.",
            key=("order_id",),
            time_field="ordered_at",
            fields=(
                _f("order_id", "string", "Order identifier.", *_ORDER_ID, required=True),
                _f("member_id", "string", "Buying member.", *_MEMBER_ID, required=True),
                _f(
                    "ordered_at",
                    "timestamp",
                    "Order (payment) time.",
                    "order date",
                    "order time",
                    "ordered",
                    "date",
                    "invoice date",
                    "invoicedate",
                    "purchase date",
                    "purchase time",
                    "transaction date",
                    "transaction time",
                    "transaction datetime",
                    "trans date",
                    "sale date",
                    "sales date",
                    "order datetime",
                    "datetime",
                    "paid at",
                    "payment time",
                    "下单时间",
                    "支付时间",
                    "付款时间",
                    "订单时间",
                    "下单日期",
                    "交易时间",
                    "购买时间",
                    "订单日期",
                    "日期",
                    "day",
                    "day number",
                    required=True,
                ),
                _f(
                    "amount",
                    "decimal",
                    "Paid amount after discounts (negative only for refunds).",
                    "paid amount",
                    "payment amount",
                    "total",
                    "order amount",
                    "sales",
                    "sales value",
                    "sales amount",
                    "net sales",
                    "net amount",
                    "total amount",
                    "order total",
                    "grand total",
                    "amount paid",
                    "spend",
                    "revenue",
                    "dollar value",
                    "实付金额",
                    "订单金额",
                    "支付金额",
                    "付款金额",
                    "实收金额",
                    "成交金额",
                    "消费金额",
                    "金额",
                    required=True,
                ),
                _f(
                    "status",
                    "string",
                    "paid, refunded or cancelled (default paid).",
                    "order status",
                    "state",
                    "订单状态",
                    "状态",
                    "交易状态",
                    values=ORDER_STATUS,
                ),
                _f(
                    "channel",
                    "string",
                    "Sales channel.",
                    "sales channel",
                    "platform",
                    "渠道",
                    "销售渠道",
                    "平台",
                ),
                _f("store_id", "string", "Store identifier.", *_STORE_ID),
                _f(
                    "coupon_id",
                    "string",
                    "Coupon used.",
                    "coupon",
                    "voucher",
                    "优惠券",
                    "优惠券id",
                    "券码",
                ),
                _f(
                    "discount",
                    "decimal",
                    "Discount granted.",
                    "discount amount",
                    "优惠金额",
                    "折扣金额",
                ),
                _f(
                    "refund_of",
                    "string",
                    "For a refund, the order it refunds.",
                    "original order",
                    "原订单号",
                ),
                _f("country", "string", "Country of the order.", "国家"),
            ),
        ),
        TableSpec(
            name="order_items",
            description="One row per order line. A line-level export (POS, marketplace) carries "
            "the order's member and time too; `orders` is then derived from it.",
            time_field="ordered_at",
            fields=(
                _f("order_id", "string", "Order identifier.", *_ORDER_ID, required=True),
                _f("product_id", "string", "Product identifier.", *_PRODUCT_ID, required=True),
                _f(
                    "quantity",
                    "decimal",
                    "Quantity (negative on a return line).",
                    "qty",
                    "number of cds",
                    "units",
                    "数量",
                    "购买数量",
                    "件数",
                ),
                _f(
                    "unit_price",
                    "decimal",
                    "Unit price.",
                    "price",
                    "unitprice",
                    "item price",
                    "sale price",
                    "单价",
                    "商品单价",
                    "成交单价",
                ),
                _f(
                    "amount",
                    "decimal",
                    "Line amount (default quantity x unit price).",
                    "line amount",
                    "line total",
                    "line value",
                    "sales value",
                    "sales amount",
                    "net sales",
                    "extended price",
                    "subtotal",
                    "小计",
                    "商品金额",
                    "行金额",
                ),
                _f("member_id", "string", "Buying member (line-level exports).", *_MEMBER_ID),
                _f(
                    "ordered_at",
                    "timestamp",
                    "Order time (line-level exports).",
                    "invoicedate",
                    "invoice date",
                    "order date",
                    "date",
                    "transaction time",
                    "transaction date",
                    "purchase date",
                    "下单时间",
                    "支付时间",
                    "交易时间",
                    "日期",
                    "day",
                    "day number",
                ),
                _f("store_id", "string", "Store of the line (line-level exports).", *_STORE_ID),
                _f(
                    "discount",
                    "decimal",
                    "Discount on the line (retail, coupon or loyalty discount).",
                    "line discount",
                    "retail disc",
                    "retail discount",
                    "discount amount",
                    "优惠金额",
                    "折扣金额",
                ),
                _f(
                    "product_name",
                    "string",
                    "Product name.",
                    "description",
                    "product",
                    "item name",
                    "商品名称",
                    "品名",
                    "商品",
                ),
                _f("country", "string", "Country.", "国家"),
            ),
        ),
        TableSpec(
            name="products",
            description="The catalogue.",
            key=("product_id",),
            fields=(
                _f("product_id", "string", "Product identifier.", *_PRODUCT_ID, required=True),
                _f(
                    "name",
                    "string",
                    "Product name.",
                    "product name",
                    "title",
                    "商品名称",
                    "名称",
                    "品名",
                ),
                _f(
                    "category",
                    "string",
                    "Category.",
                    "category name",
                    "department",
                    "commodity desc",
                    "commodity",
                    "aisle",
                    "类目",
                    "品类",
                    "分类",
                    "商品类目",
                    "一级类目",
                ),
                _f("brand", "string", "Brand.", "品牌"),
                _f(
                    "price",
                    "decimal",
                    "List price.",
                    "list price",
                    "售价",
                    "价格",
                    "吊牌价",
                    allow_negative=False,
                ),
                _f(
                    "replenishment_days",
                    "integer",
                    "Regular repurchase cycle in days, if any.",
                    "repurchase cycle",
                    "补货周期",
                ),
            ),
        ),
        TableSpec(
            name="events",
            description="Behaviour events (views, searches, clicks, carts, ...).",
            time_field="occurred_at",
            fields=(
                _f("member_id", "string", "Member (empty for anonymous visitors).", *_MEMBER_ID),
                _f(
                    "anonymous_id",
                    "string",
                    "Device or cookie id of an anonymous visitor.",
                    "device id",
                    "cookie id",
                    "visitor id",
                    "设备id",
                    "访客id",
                ),
                _f("session_id", "string", "Session identifier.", "session", "会话id"),
                _f(
                    "event_type",
                    "string",
                    "view, search, click, cart, favorite, share, ...",
                    "event",
                    "action",
                    "behavior",
                    "behaviour",
                    "行为",
                    "行为类型",
                    "事件",
                    "事件类型",
                    required=True,
                ),
                _f(
                    "occurred_at",
                    "timestamp",
                    "Event time.",
                    "time",
                    "timestamp",
                    "event time",
                    "时间",
                    "发生时间",
                    "行为时间",
                    required=True,
                ),
                _f("product_id", "string", "Product involved.", *_PRODUCT_ID),
                _f("page", "string", "Page.", "url", "页面"),
                _f(
                    "duration_s",
                    "float",
                    "Time spent, seconds.",
                    "duration",
                    "停留时长",
                    allow_negative=False,
                ),
            ),
        ),
        TableSpec(
            name="interactions",
            description="Service tickets, reviews, surveys, points, social interactions.",
            time_field="occurred_at",
            fields=(
                _f("member_id", "string", "Member.", *_MEMBER_ID, required=True),
                _f(
                    "kind",
                    "string",
                    "service_ticket, review, survey, points_earn, points_redeem, social, checkin.",
                    "type",
                    "interaction type",
                    "类型",
                    required=True,
                ),
                _f(
                    "occurred_at",
                    "timestamp",
                    "Time.",
                    "time",
                    "date",
                    "时间",
                    "日期",
                    required=True,
                ),
                _f(
                    "value",
                    "float",
                    "Rating, points or score.",
                    "score",
                    "rating",
                    "points",
                    "分值",
                    "评分",
                    "积分",
                ),
                _f("text", "string", "Free text.", "comment", "content", "内容", "评价"),
            ),
        ),
        TableSpec(
            name="campaigns",
            description="Marketing campaigns.",
            key=("campaign_id",),
            time_field="starts_at",
            fields=(
                _f(
                    "campaign_id",
                    "string",
                    "Campaign identifier.",
                    "campaign",
                    "活动id",
                    "活动编号",
                    required=True,
                ),
                _f("name", "string", "Campaign name.", "campaign name", "活动名称"),
                _f("channel", "string", "sms, email, wechat, app_push, ...", "渠道", "触达渠道"),
                _f(
                    "starts_at",
                    "timestamp",
                    "Start.",
                    "start",
                    "start date",
                    "开始时间",
                    "start day",
                ),
                _f("ends_at", "timestamp", "End.", "end", "end date", "结束时间", "end day"),
                _f("offer", "string", "The offer.", "优惠", "权益"),
                _f(
                    "type",
                    "string",
                    "Campaign type as the shop names it (e.g. TypeA, mailer, 满减).",
                    "campaign type",
                    "description",
                    "kind",
                    "活动类型",
                ),
            ),
        ),
        TableSpec(
            name="campaign_members",
            description="Who was targeted by which campaign, in which group, and their response.",
            key=("campaign_id", "member_id"),
            time_field="sent_at",
            fields=(
                _f("campaign_id", "string", "Campaign.", "campaign", "活动id", required=True),
                _f("member_id", "string", "Member.", *_MEMBER_ID, required=True),
                _f(
                    "group",
                    "string",
                    "Treatment name or 'control'; empty when the export has no control group.",
                    "arm",
                    "variant",
                    "分组",
                    "组别",
                ),
                _f("sent_at", "timestamp", "Sent.", "发送时间"),
                _f("opened_at", "timestamp", "Opened.", "打开时间"),
                _f("clicked_at", "timestamp", "Clicked.", "点击时间"),
            ),
        ),
        TableSpec(
            name="coupons",
            description="Coupons (vouchers) a campaign offers; a coupon may cover several "
            "products (one row per coupon and product).",
            fields=(
                _f("coupon_id", "string", "Coupon identifier.", *_COUPON_ID, required=True),
                _f("campaign_id", "string", "Campaign offering it.", "campaign", "活动id"),
                _f("product_id", "string", "Product it applies to.", *_PRODUCT_ID),
                _f("name", "string", "Coupon name.", "coupon name", "券名称", "优惠券名称"),
                _f(
                    "value",
                    "decimal",
                    "Face value (amount off).",
                    "face value",
                    "coupon value",
                    "面额",
                    "优惠金额",
                    allow_negative=False,
                ),
                _f("starts_at", "timestamp", "Valid from.", "valid from", "start", "生效时间"),
                _f("ends_at", "timestamp", "Valid until.", "valid to", "expiry", "失效时间"),
            ),
        ),
        TableSpec(
            name="redemptions",
            description="Coupons redeemed by members.",
            time_field="redeemed_at",
            fields=(
                _f("member_id", "string", "Member who redeemed it.", *_MEMBER_ID, required=True),
                _f("coupon_id", "string", "Coupon redeemed.", *_COUPON_ID, required=True),
                _f("campaign_id", "string", "Campaign.", "campaign", "活动id"),
                _f(
                    "redeemed_at",
                    "timestamp",
                    "Redemption time.",
                    "redemption date",
                    "redeemed",
                    "date",
                    "核销时间",
                    "使用时间",
                    "day",
                ),
                _f("order_id", "string", "Order it was used on.", *_ORDER_ID),
            ),
        ),
        TableSpec(
            name="identities",
            description="Identifiers of one member across channels (phone, openid, device, ...).",
            key=("id_type", "id_value"),
            fields=(
                _f("member_id", "string", "Member.", *_MEMBER_ID, required=True),
                _f(
                    "id_type",
                    "string",
                    "phone, email, device, openid, card.",
                    "type",
                    "标识类型",
                    required=True,
                ),
                _f(
                    "id_value",
                    "string",
                    "The identifier (pseudonymised on ingest).",
                    "value",
                    "标识",
                    required=True,
                    pii="device",
                ),
            ),
        ),
    )
}

TableName = Literal[
    "members",
    "orders",
    "order_items",
    "products",
    "events",
    "interactions",
    "campaigns",
    "campaign_members",
    "coupons",
    "redemptions",
    "identities",
]


def table_spec(name: str) -> TableSpec:
    """The spec of canonical table ``name``; a clear error lists the valid names."""
    from memberlens.exceptions import SchemaError

    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(
            f"unknown table {name!r}: use one of {', '.join(TABLES)} (see docs/data-contract.md)"
        ) from None


_NORMALISE = re.compile(r"[\s_\-./()（）]+")


def normalise_header(header: str) -> str:
    """Lower-case a header and drop spaces, underscores and punctuation, for synonym matching."""
    return _NORMALISE.sub("", str(header).strip().lstrip("\ufeff").lower())


def data_contract_markdown() -> str:
    """The contract as Markdown (``docs/data-contract.md`` is generated from this)."""
    lines = [
        "# The data contract",
        "",
        "Generated from `memberlens.schema` (do not edit by hand: "
        "`python -m memberlens.schema > docs/data-contract.md`).",
        "",
        "Only `orders` (or a line-level `order_items` export with member and time) is "
        "required; every other table switches on more of the product.",
        "",
    ]
    for t in TABLES.values():
        lines += [f"## `{t.name}`", "", t.description, ""]
        if t.key:
            lines += [f"Key: `{', '.join(t.key)}`.", ""]
        lines += [
            "| field | type | required | PII | header synonyms (examples) | meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for f in t.fields:
            syn = ", ".join(f.synonyms[:6]) + (", ..." if len(f.synonyms) > 6 else "")
            lines.append(
                f"| `{f.name}` | {f.type} | {'yes' if f.required else ''} | "
                f"{f.pii or ''} | {syn} | {f.description} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(data_contract_markdown())
