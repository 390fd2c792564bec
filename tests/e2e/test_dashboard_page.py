"""The dashboard page: for chairs and province officers, in both languages, counts linked."""

from __future__ import annotations

from tests.conftest import PASSWORD
from tests.helpers import case_in


def login(client, username: str) -> None:
    assert (
        client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    )


def test_the_chair_sees_the_tiles_and_the_officers(client, db, people) -> None:
    case_in(db, people, "plan_approval")
    login(client, "chair")
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Kế hoạch chờ phê duyệt" in page.text and "Theo cán bộ" in page.text
    tile = page.text.split("tile-approval")[1].split("</a>")[0]
    assert '<div class="display-6 fw-semibold">1</div>' in tile
    assert "tile=approval" in tile
    english = client.get("/dashboard?lang=en")
    assert "Plans waiting for approval" in english.text and "By officer" in english.text


def test_the_province_sees_it_by_commune(client, db, people) -> None:
    case_in(db, people, "plan_approval")
    login(client, "province")
    page = client.get("/dashboard")
    assert page.status_code == 200 and "Theo xã, phường" in page.text
    assert "commune=20194" in page.text


def test_a_bad_horizon_is_named_and_others_get_not_found(client, db, people) -> None:
    login(client, "chair")
    bad = client.get("/dashboard?hours=abc")
    assert bad.status_code == 422 and 'id="hours-errors"' in bad.text
    assert client.get("/dashboard?colour=red").status_code == 422  # an unknown parameter
    client.post("/logout")
    for role in ("officer", "intake", "police", "admin"):
        login(client, role)
        assert client.get("/dashboard").status_code == 404, role
        client.post("/logout")


def test_each_tile_leads_to_exactly_the_cases_it_counts(client, db, people) -> None:
    import re

    from casework.deadlines import sweep
    from tests.conftest import at

    for n, state in enumerate(("transferred", "initial_assessment", "plan_approval")):
        case_in(
            db,
            people,
            state,
            child={"full_name": f"Trẻ {n}", "sex": "male", "age_years": 5, "unit_code": "20194"},
        )
    sweep(db, at("2027-02-05T10:00:00"))
    login(client, "province")
    page = client.get("/dashboard?hours=720")
    links = re.findall(
        r'href="(/\?tile=[^"]+)"[^>]*>\s*<div class="card-body">\s*'
        r'<div class="display-6 fw-semibold">(\d+)</div>',
        page.text,
    )
    assert len(links) == 5
    for href, count in links:
        listed = client.get(href.replace("&amp;", "&"))
        assert listed.status_code == 200, href
        rows = listed.text.count("<tr class=") if "<tbody>" in listed.text else 0
        shown = len(re.findall(r'href="/cases/\d+"', listed.text))
        assert shown == int(count), (href, count, shown, rows)
    # The table's links narrow further: one commune, one officer.
    commune_link = re.search(r'href="(/\?tile=[^"]*commune=20194[^"]*)"', page.text)
    assert (
        commune_link and client.get(commune_link.group(1).replace("&amp;", "&")).status_code == 200
    )


def test_the_table_downloads_as_excel_and_csv_with_the_same_counts(client, db, people) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    case_in(db, people, "plan_approval")
    login(client, "province")
    answer = client.get("/dashboard.csv?hours=24")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0][0] == "Xã/phường" or rows[0][0].startswith("Xã")
    assert "Kế hoạch chờ phê duyệt" in rows[0]
    total = rows[-1]
    assert total[0] == "Tổng cộng" and total[rows[0].index("Kế hoạch chờ phê duyệt")] == "1"
    book = load_workbook(io.BytesIO(client.get("/dashboard.xlsx?hours=24&lang=en").data))
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert sheet[0][0] == "Commune" and sheet[-1][0] == "Total"
    assert sheet[-1][sheet[0].index("Plans waiting for approval")] == 1
    assert "Nguyễn Thị Lan" not in answer.text  # counts only, no child
    assert client.get("/dashboard.csv?hours=0").status_code == 422


def test_the_charts_are_svg_images_without_script_in_both_languages(client, db, people) -> None:
    import re

    import time_machine

    case_in(db, people, "plan_approval")  # received 03/02/2027: the window ends today
    with time_machine.travel("2027-02-06T10:00:00+07:00", tick=False):
        login(client, "chair")
        page = client.get("/dashboard")
        assert page.status_code == 200
        for name in ("new_cases", "deadlines_met", "median_times"):
            assert f'src="/dashboard/charts/{name}.svg?lang=vi"' in page.text
        # The images are drawn in the page's language (a ?lang= visit is not kept).
        assert (
            'src="/dashboard/charts/new_cases.svg?lang=en"' in client.get("/dashboard?lang=en").text
        )
        svg = client.get("/dashboard/charts/new_cases.svg")
        english = client.get("/dashboard/charts/new_cases.svg?lang=en")
        medians = client.get("/dashboard/charts/median_times.svg?lang=en")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "<script" not in svg.text and "bạo lực" in svg.text
    assert "violence" in english.text and "bạo lực" not in english.text
    assert "Initial assessment" in medians.text and "Plan approval" in medians.text
    # Its own policy allows only the chart's own style; the pages keep theirs.
    assert svg.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    # The numbers beside each chart, as a table: one violence case in 02/2027.
    table = page.text.split('class="table table-sm chart-new-cases"')[1].split("</table>")[0]
    assert re.search(r"<th scope=\"row\">02/2027</th><td class=\"text-end\">1</td>", table)
    assert "chart-median-times" in page.text and "chart-deadlines-met" in page.text
    with time_machine.travel("2027-02-06T10:05:00+07:00", tick=False):
        assert client.get("/dashboard/charts/other.svg").status_code == 404
        assert client.get("/dashboard/charts/new_cases.svg?x=1").status_code == 422
        client.post("/logout")
        assert client.get("/dashboard/charts/new_cases.svg").status_code == 302
        login(client, "officer")
        assert client.get("/dashboard/charts/new_cases.svg").status_code == 404


def test_the_forecast_by_step_links_to_exactly_its_cases(client, db, people) -> None:
    import re

    import time_machine

    from casework.deadlines import sweep
    from tests.conftest import at

    for n, state in enumerate(("transferred", "initial_assessment", "plan_approval")):
        case_in(
            db,
            people,
            state,
            child={"full_name": f"Trẻ {n}", "sex": "male", "age_years": 5, "unit_code": "20194"},
        )
    sweep(db, at("2027-02-05T10:00:00"))
    with time_machine.travel("2027-02-05T10:00:00+07:00", tick=False):
        login(client, "province")
        page = client.get("/dashboard?hours=720&lang=en")
        section = page.text.split("By step</h2>")[1].split("</table>")[0]
        links = re.findall(r'href="(/\?[^"]*state=[^"]*)">(\d+)</a>', section)
        assert len(links) >= 2, section  # overdue and due soon, in more than one step
        for href, count in links:
            listed = client.get(href.replace("&amp;", "&"))
            assert listed.status_code == 200, href
            assert len(re.findall(r'href="/cases/\d+"', listed.text)) == int(count), href
