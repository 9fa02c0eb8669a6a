"""The club's structure (SPEC C1-C5, S3): its tree of sub-clubs and the meta-clubs it belongs to,
merchant and member groups, and marketers. Every club staff member reads it; the club's admin
changes it, through the JSON API's handlers (kimia/web/api/routes/clubs.py, groups.py,
merchants.py) acting as the club's management key."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, request, url_for

from kimia.errors import KimiaError, reject
from kimia.service import structure_views as views
from kimia.web.api.dispatch import parse_model
from kimia.web.api.models import PageQuery
from kimia.web.api.routes import clubs as club_routes, groups as group_routes, merchants as merchant_routes
from kimia.web.panel import fmt, i18n
from kimia.web.panel.access import CLUB_ADMIN, CLUB_READ, PANEL, Viewer, error_fields
from kimia.web.panel.site import render

i18n.add({
    "nav.structure": ("ساختار باشگاه", "Club structure"),
    "structure.title": ("ساختار باشگاه", "Club structure"),
    "structure.tree": ("درخت باشگاه", "Club tree"),
    "structure.root": ("باشگاه اصلی", "Main club"),
    "structure.sub_club": ("زیرباشگاه", "Sub-club"),
    "structure.add_sub_club": ("افزودن زیرباشگاه", "Add a sub-club"),
    "structure.parent": ("زیرمجموعهٔ", "Under"),
    "structure.name_fa": ("نام فارسی", "Name in Persian"),
    "structure.name_en": ("نام انگلیسی", "Name in English"),
    "structure.business_type": ("نوع کسب‌وکار", "Business type"),
    "structure.meta_clubs": ("فراباشگاه‌ها", "Meta-clubs"),
    "structure.meta_none": ("این باشگاه عضو هیچ فراباشگاهی نیست.", "This club belongs to no meta-club."),
    "structure.shares": ("اشتراک", "Shares"),
    "structure.share_members": ("اعضا", "members"),
    "structure.share_merchants": ("پذیرندگان", "merchants"),
    "structure.share_value": ("اعتبار", "value"),
    "structure.clubs_in": ("باشگاه‌های عضو", "Clubs in it"),
    "structure.merchant_groups": ("گروه‌های پذیرنده", "Merchant groups"),
    "structure.member_groups": ("گروه‌های اعضا", "Member groups"),
    "structure.size": ("تعداد", "Size"),
    "structure.new_group": ("گروه تازه", "New group"),
    "structure.group_merchants": ("پذیرندگان گروه", "Merchants in the group"),
    "structure.group_members": ("اعضای گروه", "Members in the group"),
    "structure.member_ids": ("شناسهٔ اعضا (با ویرگول یا فاصله جدا کنید)", "Member ids (separated by commas or spaces)"),
    "structure.add_ids": ("افزودن (شناسه‌ها)", "Add (ids)"),
    "structure.remove_ids": ("حذف (شناسه‌ها)", "Remove (ids)"),
    "structure.change_group": ("به‌روزرسانی گروه", "Update the group"),
    "structure.member_id": ("شناسهٔ عضو", "Member id"),
    "structure.in_group": ("در گروه", "In the group"),
    "structure.marketers": ("بازاریاب‌ها", "Marketers"),
    "structure.add_marketer": ("افزودن بازاریاب", "Add a marketer"),
    "structure.sheba": ("شماره شبا", "Sheba number"),
    "structure.club": ("باشگاه", "Club"),
    "structure.created": ("تاریخ ایجاد", "Created"),
    "structure.create": ("ایجاد", "Create"),
    "structure.add": ("افزودن", "Add"),
    "structure.back": ("بازگشت به ساختار باشگاه", "Back to the club structure"),
    "structure.created_sub_club": ("زیرباشگاه ساخته شد.", "The sub-club was made."),
    "structure.created_group": ("گروه ساخته شد.", "The group was made."),
    "structure.changed_group": ("گروه به‌روز شد.", "The group was updated."),
    "structure.created_marketer": ("بازاریاب افزوده شد.", "The marketer was added."),
    "structure.yes": ("بله", "yes"),
    "structure.no": ("خیر", "no"),
})

NOTICES = ("structure.created_sub_club", "structure.created_group", "structure.changed_group", "structure.created_marketer")
ALL = PageQuery(limit=200)
_IDS = re.compile(r"[\s,،]+")


def form(*names: str) -> dict[str, Any]:
    """The posted fields named, trimmed; empty optional ones left out (the model's default)."""
    values = {name: request.form.get(name, "").strip() for name in names}
    return {k: v for k, v in values.items() if v != ""}


def id_list(text: str) -> list[str]:
    """Ids typed into one field (Persian or Latin digits, separated by commas or spaces); the
    API's model checks each is an id."""
    return [fmt.latin_digits(part) for part in _IDS.split(text.strip()) if part]


def club_id_of(text: str | None, path: str) -> int | None:
    """A club chosen in a select (None: the viewer's own); ``field_invalid`` when not a number."""
    if not text:
        return None
    value = fmt.latin_digits(text)
    if not value.isdigit() or not 0 < int(value) <= views.MAX_ID:
        raise reject("field_invalid", path=path, detail="one of the list")
    return int(value)


def notice() -> str | None:
    wanted = request.args.get("notice")
    return wanted if wanted in NOTICES else None


def club_options(v: Viewer) -> list[tuple[int, str]]:
    """The clubs of the viewer's tree, as a select offers them (indented by depth)."""
    tree = club_routes.club_tree(v.ctx()).club
    options: list[tuple[int, str]] = []

    def walk(node: Any, depth: int) -> None:
        name = node.name_fa if v.lang == "fa" or not node.name_en else node.name_en
        options.append((node.id, "— " * depth + name))
        for child in node.sub_clubs:
            walk(child, depth + 1)

    walk(tree, 0)
    return options


def _overview(v: Viewer, errors: dict[str, str] | None = None, form_name: str = "", status: int = 200,
              posted: dict[str, Any] | None = None) -> Any:
    ctx = v.ctx()
    tree = club_routes.club_tree(ctx)
    merchants = merchant_routes.list_merchants(ctx, ALL).items
    return render("panel/structure/overview.html", status=status, tree=tree, clubs=club_options(v),
                  merchant_groups=merchant_routes.list_merchant_groups(ctx, ALL).items,
                  member_groups=group_routes.list_member_groups(ctx, ALL).items,
                  marketers=club_routes.list_marketers(ctx, ALL).items, merchants=merchants,
                  club_names={c: n for c, n in club_options(v)},
                  errors=errors or {}, form_name=form_name, posted=posted or {}, notice=notice())


@PANEL.page("/structure", roles=CLUB_READ, menu=("nav.structure", 60))
def overview(v: Viewer) -> Any:
    """The club tree, meta-clubs, groups and marketers (and, for the admin, the forms to add them)."""
    return _overview(v)


@PANEL.page("/structure/sub-clubs", roles=CLUB_ADMIN, methods=("POST",))
def add_sub_club(v: Viewer) -> Any:
    data = form("parent_id", "name_fa", "name_en", "business_type")
    try:
        body = parse_model(club_routes.ClubIn, {k: data[k] for k in ("name_fa", "name_en", "business_type") if k in data})
        ctx = v.ctx()
        parent = club_id_of(data.get("parent_id"), "parent_id") or ctx.club_id
        club_routes.create_sub_club(ctx, parent, body)
    except KimiaError as error:
        fields = error_fields(error, v.lang)
        if "club_id" in fields:
            fields = {"parent_id": fields.pop("club_id"), **fields}
        return _overview(v, fields, "sub_club", 400, data)
    return redirect(url_for("panel.structure.overview", notice="structure.created_sub_club"))


@PANEL.page("/structure/marketers", roles=CLUB_ADMIN, methods=("POST",))
def add_marketer(v: Viewer) -> Any:
    data = form("club_id", "name_fa", "sheba")
    try:
        club_routes.create_marketer(v.ctx(), parse_model(club_routes.MarketerIn, data))
    except KimiaError as error:
        return _overview(v, error_fields(error, v.lang), "marketer", 400, data)
    return redirect(url_for("panel.structure.overview", notice="structure.created_marketer"))


@PANEL.page("/structure/merchant-groups", roles=CLUB_ADMIN, methods=("POST",))
def add_merchant_group(v: Viewer) -> Any:
    data = form("name_fa", "name_en")
    data["ids"] = request.form.getlist("ids")
    try:
        body = parse_model(merchant_routes.GroupIn, data)
        created = merchant_routes.create_merchant_group(v.ctx(), body)
    except KimiaError as error:
        return _overview(v, error_fields(error, v.lang), "merchant_group", 400, data)
    return redirect(url_for("panel.structure.merchant_group", group_id=created.id, notice="structure.created_group"))


@PANEL.page("/structure/member-groups", roles=CLUB_ADMIN, methods=("POST",))
def add_member_group(v: Viewer) -> Any:
    data = form("name_fa", "name_en", "ids")
    try:
        body = parse_model(merchant_routes.GroupIn, {**data, "ids": id_list(data.get("ids", ""))})
        created = group_routes.create_member_group(v.ctx(), body)
    except KimiaError as error:
        return _overview(v, error_fields(error, v.lang), "member_group", 400, data)
    return redirect(url_for("panel.structure.member_group", group_id=created.id, notice="structure.created_group"))


def _merchant_group(v: Viewer, group_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    ctx = v.ctx()
    group = merchant_routes.get_merchant_group(ctx, group_id)
    merchants = merchant_routes.list_merchants(ctx, ALL).items
    return render("panel/structure/merchant_group.html", status=status, group=group, merchants=merchants,
                  members=set(group.merchant_ids), errors=errors or {}, notice=notice())


@PANEL.page("/structure/merchant-groups/<int:group_id>", roles=CLUB_READ)
def merchant_group(v: Viewer, group_id: int) -> Any:
    """A merchant group and its merchants; the admin ticks which merchants are in it."""
    return _merchant_group(v, group_id)


@PANEL.page("/structure/merchant-groups/<int:group_id>", roles=CLUB_ADMIN, methods=("POST",), endpoint="structure.change_merchant_group")
def change_merchant_group(v: Viewer, group_id: int) -> Any:
    ctx = v.ctx()
    group = merchant_routes.get_merchant_group(ctx, group_id)
    wanted = request.form.getlist("ids")
    try:
        chosen = {int(i) for i in parse_model(merchant_routes.GroupChangeIn, {"add": wanted}).add}
        now = set(group.merchant_ids)
        merchant_routes.change_merchant_group(ctx, group_id, merchant_routes.GroupChangeIn(add=sorted(chosen - now),
                                                                                          remove=sorted(now - chosen)))
    except KimiaError as error:
        fields = error_fields(error, v.lang)
        return _merchant_group(v, group_id, {"ids": next(iter(fields.values()))}, 400)
    return redirect(url_for("panel.structure.merchant_group", group_id=group_id, notice="structure.changed_group"))


def _member_group(v: Viewer, group_id: int, errors: dict[str, str] | None = None, status: int = 200,
                  posted: dict[str, Any] | None = None) -> Any:
    ctx = v.ctx()
    group = group_routes.get_member_group(ctx, group_id)
    query = parse_model(PageQuery, {"limit": 100, **({"cursor": request.args["cursor"]} if request.args.get("cursor") else {})})
    page = group_routes.list_group_members(ctx, group_id, query)
    next_url = url_for("panel.structure.member_group", group_id=group_id, cursor=page.next_cursor) if page.next_cursor else None
    return render("panel/structure/member_group.html", status=status, group=group, members=[m.member_id for m in page.items],
                  next_url=next_url, errors=errors or {}, posted=posted or {}, notice=notice())


@PANEL.page("/structure/member-groups/<int:group_id>", roles=CLUB_READ)
def member_group(v: Viewer, group_id: int) -> Any:
    """A member group: its members by id, a page at a time; the admin adds or takes out members."""
    return _member_group(v, group_id)


@PANEL.page("/structure/member-groups/<int:group_id>", roles=CLUB_ADMIN, methods=("POST",), endpoint="structure.change_member_group")
def change_member_group(v: Viewer, group_id: int) -> Any:
    ctx = v.ctx()
    group_routes.get_member_group(ctx, group_id)
    data = form("add", "remove")
    try:
        body = parse_model(merchant_routes.GroupChangeIn, {"add": id_list(data.get("add", "")),
                                                          "remove": id_list(data.get("remove", ""))})
        group_routes.change_member_group(ctx, group_id, body)
    except KimiaError as error:
        fields = error_fields(error, v.lang)
        path = next(iter(fields))
        return _member_group(v, group_id, {path.split(".")[0] or "add": fields[path]}, 400, data)
    return redirect(url_for("panel.structure.member_group", group_id=group_id, notice="structure.changed_group"))

