"""Chinese and English: every label of the pages, segment names, and number formats.

The language of a request is ``?lang=`` (remembered in the ``ml_lang`` cookie), else the
project's locale. Numbers, money and percentages are formatted in the browser with
``Intl.NumberFormat`` for that language and the project's currency, so pages and charts agree.
"""

from __future__ import annotations

from fastapi import Request

LANGS = ("zh-CN", "en")
LANG_COOKIE = "ml_lang"

_M: dict[str, tuple[str, str]] = {
    # (zh-CN, en)
    "app": ("会员洞察", "memberlens"),
    "nav.overview": ("经营概览", "Overview"),
    "nav.segments": ("会员分群", "Segments"),
    "nav.members": ("会员列表", "Members"),
    "nav.value": ("价值与流失", "Value & churn"),
    "nav.cohorts": ("同期群", "Cohorts"),
    "nav.geo": ("地域分布", "Geography"),
    "nav.baskets": ("购物篮", "Baskets"),
    "nav.data": ("数据", "Data"),
    "nav.admin": ("管理", "Admin"),
    "nav.api": ("API 文档", "API docs"),
    "nav.logout": ("退出", "Log out"),
    "nav.account": ("账户", "Account"),
    "nav.audiences": ("人群圈选", "Audiences"),
    # the Audiences page (memberlens.web.routers.api_audiences)
    "aud.builder": ("圈选条件", "Filter"),
    "aud.where_help": (
        '例如 segment_cn8 == "important_value" and clv > 500 and not opted_out("sms")',
        'e.g. segment_cn8 == "important_value" and clv > 500 and not opted_out("sms")',
    ),
    "aud.count": ("{size} / {total} 位会员 ({share})", "{size} of {total} members ({share})"),
    "aud.name": ("人群名称", "Audience name"),
    "aud.save": ("保存人群", "Save audience"),
    "aud.saved": ("已保存的人群", "Saved audiences"),
    "aud.breakdown": ("人群构成", "Breakdown"),
    "aud.by_segment": ("按 RFM 八类", "By RFM class"),
    "aud.by_tier": ("按价值等级", "By value tier"),
    "aud.by_province": ("按省份", "By province"),
    "aud.overlap": ("人群重叠", "Overlap"),
    "aud.overlap_help": ("勾选 2-6 个人群比较重叠", "Tick 2-6 audiences to compare"),
    "aud.other": ("其他", "Other"),
    "aud.freeze": ("冻结名单", "Freeze list"),
    "aud.export": ("导出", "Export"),
    "aud.delete": ("删除", "Delete"),
    "aud.expression": ("条件", "Expression"),
    "aud.size": ("人数", "Members"),
    "aud.frozen": ("已冻结 {size} 位会员 ({as_of})", "Froze {size} members ({as_of})"),
    "aud.intersection": ("交集", "Intersection"),
    "aud.share_union": ("占并集", "Share of union"),
    "aud.share_smallest": ("占最小人群", "Share of smallest"),
    "nav.triggers": ("自动触达", "Triggers"),
    "triggers.rules": ("触发规则", "Trigger rules"),
    "triggers.name": ("规则", "Rule"),
    "triggers.kind": ("类型", "Kind"),
    "triggers.channel": ("渠道", "Channel"),
    "triggers.state": ("状态", "State"),
    "triggers.would_fire": ("今日将触达", "Would fire today"),
    "triggers.on": ("已开启", "On"),
    "triggers.off": ("已关闭", "Off"),
    "triggers.switch": ("开/关", "Switch"),
    "triggers.none": (
        "还没有触发规则：用 `memberlens triggers add` 添加",
        "No trigger rules yet: add one with `memberlens triggers add`",
    ),
    "login.title": ("登录", "Log in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.tagline": ("会员数据分析驱动的精准营销", "Member analytics for precision marketing"),
    "kpi.members": ("会员总数", "Members"),
    "kpi.active_members": ("活跃会员", "Active members"),
    "kpi.revenue": ("销售额", "Revenue"),
    "kpi.orders": ("订单数", "Orders"),
    "kpi.aov": ("客单价", "Average order value"),
    "kpi.repurchase_rate": ("复购率", "Repurchase rate"),
    "kpi.retention": ("留存率", "Retention"),
    "kpi.new_members": ("新客数", "New customers"),
    "kpi.vs_previous": ("较上期", "vs previous period"),
    "range.start": ("开始日期", "From"),
    "range.end": ("结束日期", "To"),
    "range.grain": ("粒度", "Grain"),
    "range.apply": ("应用", "Apply"),
    "grain.day": ("日", "Day"),
    "grain.week": ("周", "Week"),
    "grain.month": ("月", "Month"),
    "chart.trend": ("趋势", "Trend"),
    "chart.current": ("本期", "This period"),
    "chart.previous": ("上期", "Previous period"),
    "col.member_id": ("会员ID", "Member ID"),
    "col.segment": ("分群", "Segment"),
    "col.segment_cn8": ("RFM 八类", "RFM (8 classes)"),
    "col.segment_rfm11": ("RFM 十一类", "RFM (11 segments)"),
    "col.value_tier": ("价值等级", "Value tier"),
    "col.lifecycle_stage": ("生命周期", "Lifecycle"),
    "col.frequency": ("复购次数", "Frequency"),
    "col.recency": ("最近购买间隔", "Recency"),
    "col.monetary_value": ("平均复购金额", "Monetary value"),
    "col.total_spend": ("累计消费", "Total spend"),
    "col.order_count": ("订单数", "Orders"),
    "col.days_since_last": ("距上次购买(天)", "Days since last"),
    "col.p_alive": ("存活概率", "P(alive)"),
    "col.clv": ("客户终身价值", "CLV"),
    "col.expected_purchases_90d": ("90天预计购买", "Expected purchases (90 d)"),
    "col.province": ("省份", "Province"),
    "col.city": ("城市", "City"),
    "col.channel": ("渠道", "Channel"),
    "col.gender": ("性别", "Gender"),
    "col.phone_masked": ("手机(脱敏)", "Phone (masked)"),
    "col.email_masked": ("邮箱(脱敏)", "E-mail (masked)"),
    "col.name_masked": ("姓名(脱敏)", "Name (masked)"),
    "col.registered_at": ("注册时间", "Registered"),
    "col.order_id": ("订单号", "Order"),
    "col.ordered_at": ("下单时间", "Ordered at"),
    "col.amount": ("金额", "Amount"),
    "col.status": ("状态", "Status"),
    "col.country": ("国家", "Country"),
    "col.R": ("R 分", "R score"),
    "col.F": ("F 分", "F score"),
    "col.M": ("M 分", "M score"),
    "col.registration_channel": ("注册渠道", "Registration channel"),
    "col.T": ("首购至今(天)", "T (days since first)"),
    "col.aov": ("客单价", "AOV"),
    "col.last_purchase_at": ("最近购买", "Last purchase"),
    "col.first_purchase_at": ("首次购买", "First purchase"),
    "col.purchase_days": ("购买天数", "Purchase days"),
    "col.favourite_channel": ("常用渠道", "Favourite channel"),
    "col.favourite_category": ("偏好品类", "Favourite category"),
    "col.refunded_amount": ("退款金额", "Refunded"),
    "col.refund_share": ("退款占比", "Refund share"),
    "col.members": ("会员数", "Members"),
    "col.revenue": ("销售额", "Revenue"),
    "col.revenue_share": ("销售额占比", "Revenue share"),
    "col.avg_clv": ("平均 CLV", "Average CLV"),
    "col.value_at_risk": ("风险价值", "Value at risk"),
    "col.table": ("数据表", "Table"),
    "col.rows_stored": ("已入库", "Rows stored"),
    "col.rows_quarantined": ("隔离", "Quarantined"),
    "col.last_load": ("最近加载", "Last load"),
    "col.first_at": ("最早", "First"),
    "col.last_at": ("最晚", "Last"),
    "col.rule": ("规则", "Rule"),
    "col.reason": ("原因", "Reason"),
    "col.line": ("行号", "Line"),
    "col.source": ("来源", "Source"),
    "col.field": ("字段", "Field"),
    "members.search": ("按会员ID搜索", "Search member ID"),
    "members.export_csv": ("导出 CSV", "Export CSV"),
    "members.export_xlsx": ("导出 Excel", "Export Excel"),
    "members.total": ("共 {n} 位会员", "{n} members"),
    "members.prev": ("上一页", "Previous"),
    "members.next": ("下一页", "Next"),
    "members.all": ("全部", "All"),
    "members.filter": ("筛选", "Filter"),
    "member.profile": ("基本信息", "Profile"),
    "member.scores": ("评分与价值", "Scores and value"),
    "member.orders": ("订单记录", "Orders"),
    "member.reveal": ("查看联系方式", "Reveal contact"),
    "member.reveal_note": ("该操作将记入审计日志", "This is recorded in the audit log"),
    "member.pseudonymised": (
        "本项目仅保存假名化(哈希)的联系方式，无法还原明文。",
        "This project keeps contact details pseudonymised (hashed): "
        "they cannot be turned back into clear text.",
    ),
    "segments.scheme_cn": ("RFM 八类客户", "RFM 8-class scheme (Chinese)"),
    "segments.scheme_en": ("RFM 十一类细分", "RFM 11-segment scheme"),
    "segments.tiers": ("价值等级", "Value tiers"),
    "segments.lifecycle": ("生命周期", "Lifecycle"),
    "segments.transitions": (
        "生命周期流转(上月 → 本月)",
        "Lifecycle moves (last month → this month)",
    ),
    "segments.drill": ("点击分群查看会员", "Click a segment to list its members"),
    "value.clv": ("CLV 分布", "CLV distribution"),
    "value.p_alive": ("存活概率分布", "P(alive) distribution"),
    "value.churn": ("流失风险会员(按风险价值排序)", "Churn risk (ranked by value at risk)"),
    "cohorts.heatmap": ("留存热力图", "Retention heatmap"),
    "cohorts.curves": ("复购曲线", "Repurchase curves"),
    "cohorts.cohort": ("同期群", "Cohort"),
    "cohorts.period": ("期数", "Period"),
    "geo.china": ("中国各省会员分布", "Members by province (China)"),
    "geo.world": ("各国家/地区销售额", "Revenue by country"),
    "geo.world_map": ("海外市场：各国家/地区销售额", "Shops abroad: revenue by country"),
    "geo.growth": ("各省增长(本期 vs 上期)", "Growth by province (this period vs previous)"),
    "geo.metric": ("地图指标", "Map shows"),
    "geo.metric.members": ("会员数", "Members"),
    "geo.metric.revenue": ("累计销售额", "Revenue"),
    "geo.metric.members_growth": ("会员增长率", "Member growth"),
    "geo.metric.active_growth": ("活跃会员增长率", "Active member growth"),
    "geo.metric.revenue_growth": ("销售额增长率", "Revenue growth"),
    "geo.period": (
        "本期 {start} – {end}，上期 {previous_start} – {previous_end}",
        "This period {start} – {end}, previous {previous_start} – {previous_end}",
    ),
    "geo.no_countries": (
        "订单中没有国家字段：加载带 country 列的订单即可看到海外市场。",
        "Orders carry no country: load orders with a country column to see shops abroad.",
    ),
    "col.members_end": ("期末会员数", "Members at period end"),
    "col.members_change": ("会员增长", "Member growth"),
    "col.new_members": ("本期新会员", "New members"),
    "col.new_members_previous": ("上期新会员", "New members (previous)"),
    "col.active_members": ("本期活跃会员", "Active members"),
    "col.active_members_previous": ("上期活跃会员", "Active members (previous)"),
    "col.active_change": ("活跃增长", "Active growth"),
    "col.revenue_current": ("本期销售额", "Revenue this period"),
    "col.revenue_previous": ("上期销售额", "Revenue previous period"),
    "col.revenue_change": ("销售额增长", "Revenue growth"),
    "col.orders": ("订单数", "Orders"),
    "col.iso2": ("代码", "Code"),
    "col.revenue_total": ("累计销售额", "Revenue (all time)"),
    # sources of mart_recommendations (memberlens.recommend: als, item_knn, popular)
    "source.als": ("协同过滤(ALS)", "Collaborative filtering (ALS)"),
    "source.item_knn": ("相似商品", "Similar products"),
    "source.popular": ("热销商品", "Popular products"),
    "source.popular_in_category": ("偏好品类热销", "Popular in a favourite category"),
    "value.models": ("购买模型比较", "Purchase models compared"),
    "value.models_holdout": (
        "按预测期回测选择：会员级平均绝对误差(MAE)最小者 {model} 被采用",
        "Chosen by the holdout back-test: {model} has the smallest member-level mean absolute "
        "error (MAE)",
    ),
    "value.models_aic": (
        "历史太短无法回测，按 AIC(越小越好)选择：{model} 被采用",
        "History too short for a holdout back-test; chosen by AIC (smaller is better): {model}",
    ),
    "value.models_warning": (
        "注意：{model} 对预测期复购次数的预测偏差 {error}(超过 {limit})，预期购买与 CLV 只能作粗略参考",
        "Warning: {model} missed the holdout's repeat purchases by {error} (more than {limit}): "
        "treat expected purchases and CLV as rough",
    ),
    "value.degenerate": ("拟合退化", "degenerate fit"),
    "col.model": ("模型", "Model"),
    "col.holdout_mae": ("预测期 MAE", "Holdout MAE"),
    "col.aic": ("AIC", "AIC"),
    "col.log_likelihood": ("对数似然", "Log-likelihood"),
    "col.fit_health": ("拟合诊断", "Fit check"),
    "col.chosen": ("采用", "Chosen"),
    "value.backtest": (
        "模型回测(校准期拟合，预测期检验)",
        "Back-test (fitted on the calibration period, checked on the holdout)",
    ),
    "value.backtest_loading": (
        "正在用校准期数据拟合模型…",
        "Fitting the model on the calibration period…",
    ),
    "value.backtest_summary": (
        "{model}：校准期截至 {calibration_end}，预测期截至 {holdout_end}，"
        "{n} 位会员；预测期复购 实际 {actual}，模型 {expected}；"
        "会员级 MAE {mae}，相关系数 {r}",
        "{model}: calibration to {calibration_end}, holdout to "
        "{holdout_end}, {n} members; holdout repeat purchases actual "
        "{actual}, model {expected}; member MAE {mae}, correlation {r}",
    ),
    "value.tracking_cum": (
        "累计复购次数：实际 vs 模型",
        "Cumulative repeat purchases: actual vs model",
    ),
    "value.tracking_inc": (
        "每周复购次数：实际 vs 模型",
        "Weekly repeat purchases: actual vs model",
    ),
    "value.cond_exp": (
        "按校准期复购次数分组的预测期人均购买",
        "Holdout purchases per member by calibration frequency",
    ),
    "value.calibration_end": ("校准期结束", "End of calibration"),
    "chart.actual": ("实际", "Actual"),
    "chart.model": ("模型", "Model"),
    "col.calibration_frequency": ("校准期复购次数", "Calibration frequency"),
    "col.actual_mean": ("实际均值", "Actual mean"),
    "col.expected_mean": ("模型均值", "Model mean"),
    "value.next": ("预计下次购买(未来 13 周)", "Expected next purchase (next 13 weeks)"),
    "value.next_members": ("会员数(中位日期)", "Members (median date)"),
    "value.next_alive": ("按存活概率加权", "Weighted by P(alive)"),
    "value.replenishment": ("品类补货：未来 30 天", "Replenishment by category: next 30 days"),
    "value.likely": ("30 天内最可能回购的会员", "Most likely to buy within 30 days"),
    "col.category": ("品类", "Category"),
    "col.due": ("30天内到期", "Due in 30 days"),
    "col.overdue": ("已逾期", "Overdue"),
    "col.expected_buyers": ("预计购买人数", "Expected buyers"),
    "col.cycle_days": ("购买周期(天)", "Cycle (days)"),
    "col.expected_next_purchase": ("预计下次购买", "Expected next purchase"),
    "col.days_overdue": ("逾期天数", "Days overdue"),
    "col.p_within_window": ("30天内购买概率", "P(buy within 30 days)"),
    "col.last_purchase": ("最近购买", "Last purchase"),
    "col.week_start": ("周", "Week"),
    "col.next_purchase_date": ("预计下次购买", "Expected next purchase"),
    "col.time_to_next_purchase": ("距下次购买", "Time to next purchase"),
    "member.history": ("分群、等级与生命周期历史", "Segment, tier and stage history"),
    "member.changes": ("变化", "Changes"),
    "member.recommendations": ("推荐商品", "Recommendations"),
    "col.as_of": ("统计日", "As of"),
    "col.rank": ("排名", "Rank"),
    "col.product_id": ("商品ID", "Product"),
    "col.product_name": ("商品名称", "Product name"),
    "col.score": ("得分", "Score"),
    "empty.history": (
        "暂无历史：每次运行 `memberlens run` 记录一个时间点。",
        "No history yet: each `memberlens run` records a point.",
    ),
    "empty.recommendations": (
        "暂无推荐：请先运行 `memberlens run`。",
        "No recommendations yet: run `memberlens run`.",
    ),
    "setup.title": ("首次使用：创建管理员账户", "First run: create the admin account"),
    "setup.intro": (
        "还没有任何账户。此页面仅在本机(127.0.0.1)可用，创建的第一个账户为管理员。",
        "There is no account yet. This page works only on this machine "
        "(127.0.0.1); the first account is an admin.",
    ),
    "setup.password2": ("确认密码", "Repeat password"),
    "setup.submit": ("创建并登录", "Create and log in"),
    "setup.mismatch": ("两次输入的密码不一致。", "The two passwords differ."),
    "setup.local_only": (
        "首次设置只能在运行服务的本机上打开(127.0.0.1)；或使用 `memberlens user "
        "add 名称 --role admin`。",
        "The first-run page opens only on the machine that runs the server "
        "(127.0.0.1); or use `memberlens user add NAME --role admin`.",
    ),
    "setup.token": ("设置口令(见服务器控制台)", "Setup token (on the server console)"),
    "setup.bad_token": (
        "设置口令缺失或不正确：请使用 `memberlens serve` 在控制台打印的链接或口令。",
        "The setup token is missing or wrong: use the link or token that `memberlens serve` "
        "printed on the console.",
    ),
    "setup.bad_origin": (
        "首次设置只接受以 http://127.0.0.1 或 http://localhost 打开、并从同一页面提交的请求。",
        "The first-run page accepts only requests to http://127.0.0.1 or http://localhost, "
        "submitted from that same page.",
    ),
    "setup.exists": (
        "已存在账户：请登录。新账户由管理员在“管理”页创建。",
        "An account exists already: log in. Admins add accounts on the Admin page.",
    ),
    "login.no_account": (
        "还没有账户：在服务器上运行 `memberlens user add 名称 --role admin`，"
        "或在服务器本机打开 /setup。",
        "No account yet: run `memberlens user add NAME --role admin` on the "
        "server, or open /setup on the server itself.",
    ),
    "baskets.rules": ("关联规则", "Association rules"),
    "baskets.for_member": ("为会员推荐", "Recommendations for a member"),
    "baskets.member_id": ("会员ID", "Member ID"),
    "baskets.recommend": ("推荐", "Recommend"),
    "baskets.lhs": ("如果购买", "If bought"),
    "baskets.rhs": ("也会购买", "Then also buys"),
    "col.support": ("支持度", "Support"),
    "col.confidence": ("置信度", "Confidence"),
    "col.lift": ("提升度", "Lift"),
    "baskets.min_lift": ("最小提升度", "Min lift"),
    "baskets.min_confidence": ("最小置信度", "Min confidence"),
    "data.status": ("各表加载状态", "Load status per table"),
    "data.loads": ("加载日志", "Load log"),
    "data.runs": ("运行日志", "Run log"),
    "data.quarantine": ("隔离区", "Quarantine"),
    "admin.users": ("账户", "Accounts"),
    "admin.audit": ("审计日志", "Audit log"),
    "admin.tokens": ("API 令牌", "API tokens"),
    "admin.roles": ("角色权限", "Roles"),
    "admin.new_token": ("新建令牌", "New token"),
    "admin.revoke": ("撤销", "Revoke"),
    "admin.token_once": ("请立即复制，该令牌只显示一次：", "Copy it now, it is shown only once:"),
    "admin.add_user": ("新增账户", "Add account"),
    "admin.role": ("角色", "Role"),
    "perm.view_kpis": ("经营看板", "Dashboards"),
    "perm.view_members": ("会员明细", "Member details"),
    "perm.export_members": ("导出名单", "Export lists"),
    "perm.view_data": ("数据管理", "Data"),
    "perm.reveal_pii": ("查看联系方式", "Reveal contacts"),
    "perm.view_audit": ("审计日志", "Audit log"),
    "perm.manage_users": ("账户管理", "Accounts"),
    "audit.time": ("时间", "Time"),
    "audit.action": ("操作", "Action"),
    "audit.target": ("对象", "Target"),
    "col.active": ("启用", "Active"),
    "col.created": ("创建时间", "Created"),
    "col.scheme": ("分群方案", "Scheme"),
    "col.rows_read": ("读取行数", "Rows read"),
    "col.run_id": ("运行", "Run"),
    "col.step": ("步骤", "Step"),
    "col.rows_out": ("输出行数", "Rows out"),
    "col.finished_at": ("完成时间", "Finished"),
    "col.name": ("名称", "Name"),
    "col.prefix": ("前缀", "Prefix"),
    "col.last_used": ("最近使用", "Last used"),
    "col.revoked": ("已撤销", "Revoked"),
    "empty.run": (
        "尚无该数据：请先运行 `memberlens run` 生成分析结果。",
        "No data yet: run `memberlens run` to build the analyses.",
    ),
    "empty.nodata": ("暂无数据", "No data"),
    "empty.warehouse": (
        "仓库中还没有数据：先用 `memberlens ingest orders 文件` 加载订单。",
        "The warehouse is empty: load orders with `memberlens ingest orders FILE`.",
    ),
    # -- campaigns, experiments, uplift (web/routers/api_campaigns.py) ------------------------
    "nav.campaigns": ("营销活动", "Campaigns"),
    "nav.experiments": ("实验与 ROI", "Experiments & ROI"),
    "campaigns.list": ("活动列表", "Campaigns"),
    "campaigns.open": ("点击一行查看活动报告", "Click a row for the campaign's report"),
    "campaigns.none": (
        "还没有活动数据：用 `memberlens ingest campaigns 文件` 和 `memberlens ingest "
        "campaign_members 文件` 加载活动和活动会员。",
        "No campaigns yet: load them with `memberlens ingest campaigns FILE` and "
        "`memberlens ingest campaign_members FILE`.",
    ),
    "campaign.arms": ("各组表现", "Arms"),
    "campaign.comparisons": ("实验组对比对照组", "Treatment against control"),
    "campaign.lift_chart": ("提升及置信区间", "Lift with its confidence interval"),
    "campaign.economics": ("增量收入、成本与 ROI", "Incremental revenue, cost and ROI"),
    "campaign.segments": ("分群效果", "By segment"),
    "campaign.segments_as_of": ("分群时点", "Segments as of"),
    "campaign.by": ("拆分维度", "Break down by"),
    "campaign.by_none": ("不拆分", "No breakdown"),
    "campaign.apply": ("更新", "Update"),
    "campaign.export_xlsx": ("导出 Excel", "Export Excel"),
    "campaign.export_html": ("导出 HTML", "Export HTML"),
    "campaign.notes": ("说明", "Notes"),
    "campaign.srm": ("样本比例失衡", "Sample ratio mismatch"),
    "campaign.back": ("返回活动列表", "Back to campaigns"),
    "send.title": ("发送", "Send"),
    "send.dry_run": ("试运行（现在发送会触达）", "Dry run (who a send would reach now)"),
    "send.status": ("发送状态", "Send status"),
    "send.figure": ("项目", "Figure"),
    "send.members": ("会员数", "Members"),
    "send.button": ("发送待发消息", "Send what is pending"),
    "send.done": (
        "本次发送 {sent}，失败 {failed}，待发 {pending}，发送时拦截 {withheld}。",
        "This send: {sent} sent, {failed} failed, {pending} pending, {withheld} withheld.",
    ),
    "send.scheduled": (
        "活动尚未开始（{start} 开始），本次未发送；到时由调度器发送。",
        "Not started yet (starts {start}): nothing sent; the scheduler sends it then.",
    ),
    "send.preview": ("消息预览（任一会员）", "Message preview (any member)"),
    "send.preview_member": ("会员 ID", "Member id"),
    "send.preview_button": ("预览", "Preview"),
    "send.preview_language": ("语言：{language}", "Language: {language}"),
    "send.audience": ("目标会员", "Audience"),
    "send.would_send": ("将发送", "Would send"),
    "send.control": ("对照组（不发送）", "Control (not sent)"),
    "send.deferred": ("免打扰时段，延后", "Quiet hours, deferred"),
    "send.excluded_suppressed": (
        "排除：屏蔽名单（含未结投诉）",
        "Excluded: suppression list (open complaints)",
    ),
    "send.excluded_opted_out": ("排除：已退订该渠道", "Excluded: opted out of the channel"),
    "send.excluded_no_address": ("排除：无有效邮箱", "Excluded: no usable address"),
    "send.excluded_frequency_cap": ("排除：频次上限", "Excluded: frequency cap"),
    "send.sent": ("已发送", "Sent"),
    "send.failed": ("失败", "Failed"),
    "send.pending": ("待发送", "Pending"),
    "send.retried": ("重试过", "Retried"),
    "send.unknown": ("状态不明（发送中断）", "In doubt (sender stopped)"),
    "send.excluded": ("已排除", "Excluded"),
    "uplift.title": ("增量响应模型（Uplift）", "Uplift models"),
    "uplift.qini": ("Qini 曲线（留出会员）", "Qini curve (held-out members)"),
    "uplift.deciles": ("按预测十分位的实际增量", "Observed uplift by decile of the prediction"),
    "uplift.models": ("模型比较", "Models compared"),
    "uplift.none": (
        "该活动还没有增量模型：运行 `memberlens uplift fit {id}`。",
        "No uplift model for this campaign yet: run `memberlens uplift fit {id}`.",
    ),
    "uplift.random": ("随机投放", "Random targeting"),
    "uplift.x": ("按预测增量排序的前 n 名会员", "Top n members by predicted uplift"),
    "uplift.chosen": ("选用：{method}", "Chosen: {method}"),
    "uplift.targets": ("预测增量最高的 100 名会员", "The 100 members with the highest uplift"),
    "uplift.rescore": ("用已保存模型重新打分", "Score members now (saved model)"),
    "uplift.from_mart": (
        "上次拟合时的打分（mart_uplift_scores，特征截至 {as_of}）",
        "Scores of the last fit (mart_uplift_scores, features as of {as_of})",
    ),
    "uplift.from_model": (
        "已保存模型现在的打分（未重新拟合，特征截至 {as_of}）",
        "Scored now by the saved model (no refit, features as of {as_of})",
    ),
    "plan.title": ("实验样本量计算器", "Experiment calculator"),
    "plan.baseline": ("对照组转化率", "Control's rate"),
    "plan.mde": ("最小可检测提升（相对）", "Minimum detectable lift (relative)"),
    "plan.power": ("统计功效", "Power"),
    "plan.alpha": ("显著性水平", "Significance level"),
    "plan.daily": ("每天进入实验的会员数", "Members entering per day"),
    "plan.submit": ("计算", "Calculate"),
    "plan.target": ("要检测的实验组转化率", "Treatment rate to detect"),
    "plan.per_arm": ("每组会员数", "Members per arm"),
    "plan.total": ("总会员数", "Members in all"),
    "plan.days": ("所需天数", "Days needed"),
    "roi.title": ("精准营销项目 ROI 计算器", "Programme ROI calculator"),
    "roi.members": ("会员数", "Members"),
    "roi.message_cost": ("单条消息成本", "Cost per message"),
    "roi.baseline_rate": ("自然购买率", "Baseline buying rate"),
    "roi.lift": ("群发的增量转化（绝对值）", "Incremental conversion of a blanket send"),
    "roi.aov": ("增量订单客单价", "AOV of an incremental order"),
    "roi.margin": ("毛利率", "Margin"),
    "roi.coupon_cost": ("每张券成本", "Coupon cost per order"),
    "roi.campaigns_per_year": ("每年活动次数", "Campaigns a year"),
    "roi.target_share": ("精准投放比例", "Share targeted"),
    "roi.captured_share": ("覆盖的增量买家比例", "Share of incremental buyers reached"),
    "roi.model_cost": ("每年模型成本", "Model cost a year"),
    "roi.staff_cost": ("每年人力成本", "Staff cost a year"),
    "roi.submit": ("计算", "Calculate"),
    "roi.plan": ("方案", "Plan"),
    "roi.blanket": ("全量群发", "Blanket send"),
    "roi.targeted": ("精准投放", "Targeted"),
    "roi.advantage": ("精准投放每年多赚", "Targeted advantage a year"),
    "roi.break_even": ("盈亏平衡活动次数", "Break-even campaigns a year"),
    "costs.title": ("成本设置", "Cost settings"),
    "costs.message": ("各渠道单条消息成本", "Message cost by channel"),
    "costs.message_help": ("例如 sms=0.05, email=0.001", "e.g. sms=0.05, email=0.001"),
    "costs.coupon": ("每张券成本（留空：用订单折扣）", "Coupon cost (empty: the orders' discount)"),
    "costs.margin": ("毛利率（留空：ROI 不计算）", "Margin (empty: no ROI)"),
    "costs.save": ("保存", "Save"),
    "costs.saved": ("已保存", "Saved"),
    "costs.read_only": (
        "只有分析师和管理员可以修改成本设置。",
        "Only analysts and admins may change the cost settings.",
    ),
    "col.campaign_id": ("活动编号", "Campaign"),
    "col.starts_at": ("开始", "Starts"),
    "col.ends_at": ("结束", "Ends"),
    "col.control": ("对照组", "Control"),
    "col.arm": ("分组", "Arm"),
    "col.n": ("会员数", "Members"),
    "col.responders": ("响应人数", "Responders"),
    "col.buyers": ("购买人数", "Buyers"),
    "col.response_rate": ("响应率", "Response rate"),
    "col.conversion_rate": ("转化率", "Conversion rate"),
    "col.revenue_per_member": ("人均收入", "Revenue per member"),
    "col.retention_rate": ("留存率", "Retention"),
    "col.metric": ("指标", "Metric"),
    "col.difference": ("差值", "Difference"),
    "col.relative_lift": ("相对提升", "Relative lift"),
    "col.ci_low": ("置信区间下限", "CI low"),
    "col.ci_high": ("置信区间上限", "CI high"),
    "col.p_value": ("p 值", "p-value"),
    "col.p_value_adjusted": ("校正后 p 值", "Adjusted p-value"),
    "col.probability_to_beat_control": ("优于对照的概率", "P(beats control)"),
    "col.expected_loss": ("预期损失", "Expected loss"),
    "col.incremental_revenue": ("增量收入", "Incremental revenue"),
    "col.incremental_margin": ("增量毛利", "Incremental margin"),
    "col.cost": ("成本", "Cost"),
    "col.roi": ("ROI", "ROI"),
    "col.method": ("模型", "Model"),
    "col.qini_coefficient": ("Qini 系数", "Qini coefficient"),
    "col.auuc": ("AUUC", "AUUC"),
    "col.decile": ("十分位", "Decile"),
    "col.n_treatment": ("实验组人数", "Treated"),
    "col.n_control": ("对照组人数", "Control"),
    "col.observed_uplift": ("实际增量", "Observed uplift"),
    "col.predicted_uplift": ("预测增量", "Predicted uplift"),
    "col.uplift": ("预测增量", "Predicted uplift"),
    "col.expected_incremental_revenue": ("预计增量收入", "Expected incremental revenue"),
    "col.expected_incremental_profit": ("预计增量利润", "Expected incremental profit"),
    "col.messaged": ("触达人数", "Messaged"),
    "col.incremental_buyers": ("增量买家", "Incremental buyers"),
    "col.net_per_year": ("每年净收益", "Net a year"),
    "col.cost_per_year": ("每年成本", "Cost a year"),
    "metric.conversion_rate": ("转化率", "Conversion rate"),
    "metric.revenue_per_member": ("人均收入", "Revenue per member"),
    "metric.response_rate": ("响应率", "Response rate"),
    "metric.retention_rate": ("留存率", "Retention"),
    "lang.switch": ("English", "中文"),
    "segment.paid": ("已支付", "Paid"),
    "segment.refunded": ("已退款", "Refunded"),
    "segment.cancelled": ("已取消", "Cancelled"),
    "error.forbidden": ("当前角色无权访问此页面。", "Your role may not open this page."),
}


def _segment_names() -> dict[str, tuple[str, str]]:
    """Segment names of every built-in scheme, by key, English and Chinese name -> (zh, en)."""
    from memberlens.segmentation.schemes import SCHEMES

    out: dict[str, tuple[str, str]] = {}
    for scheme in SCHEMES.values():
        segs = list(scheme.segments) + ([scheme.fallback] if scheme.fallback else [])
        for seg in segs:
            for name in (seg.key, seg.en, seg.zh):
                out[name] = (seg.zh, seg.en)
    from memberlens.behavior.lifecycle import STAGE_NAMES
    from memberlens.segmentation.tiers import TIERS

    for table in (TIERS, STAGE_NAMES):  # value tiers and lifecycle stages: key -> (en, zh)
        for key, (en, zh) in table.items():
            for name in (key, en, zh):
                out.setdefault(name, (zh, en))
    return out


#: names of RFM segments (memberlens.segmentation), value tiers and lifecycle stages, both
#: languages, by key, English name and Chinese name
SEGMENTS: dict[str, tuple[str, str]] = _segment_names()


def segment_aliases(name: str) -> list[str]:
    """Every spelling of a segment (its key and both names), for filtering a member list."""
    pair = SEGMENTS.get(name)
    if pair is None:
        return [name]
    return sorted({k for k, v in SEGMENTS.items() if v == pair} | {name})


def text(key: str, lang: str, **values) -> str:
    pair = _M.get(key)
    out = key if pair is None else pair[0 if lang == "zh-CN" else 1]
    return out.format(**values) if values else out


def segment_name(name: str | None, lang: str) -> str | None:
    if name is None:
        return None
    pair = SEGMENTS.get(name)
    return name if pair is None else pair[0 if lang == "zh-CN" else 1]


def catalogue(lang: str) -> dict[str, str]:
    """Every message in ``lang`` (handed to the page scripts)."""
    i = 0 if lang == "zh-CN" else 1
    out = {k: v[i] for k, v in _M.items()}
    out.update({f"segment.{k}": v[i] for k, v in SEGMENTS.items()})
    return out


def request_lang(request: Request, default: str) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or default
    return lang if lang in LANGS else default


def missing_keys() -> list[str]:
    """Messages lacking a translation (a test keeps this empty)."""
    return [k for k, (zh, en) in _M.items() if not zh or not en]
