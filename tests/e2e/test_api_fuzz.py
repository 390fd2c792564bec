"""Whatever a client sends, the API answers with a 2xx or a 4xx that says what was wrong:
a 500 is a bug."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import report_payload

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = list(report_payload()) + [
    "child.full_name",
    "child.sex",
    "child.birth_date",
    "child.age_years",
    "child.unit_code",
]
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def recent_payload() -> dict:
    """A report received an hour ago (a receipt must be neither future nor months old)."""
    received = (datetime.now().astimezone() - timedelta(hours=1)).replace(microsecond=0)
    return report_payload(received_at=received.isoformat())


def _with(payload: dict, field: str, value: object) -> dict:
    body = {**payload, "child": dict(payload["child"])}
    if field.startswith("child."):
        body["child"][field.split(".", 1)[1]] = value
    else:
        body[field] = value
    return body


@FUZZ
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_report_with_any_value_in_any_field_is_never_a_500(api, field, value) -> None:
    response = api.post("/reports", "intake", _with(recent_payload(), field, value))
    # 400: the input gate (control characters, surrogates, numbers beyond I-JSON).
    assert response.status_code in (201, 400, 422), (field, value, response.json)
    if response.status_code in (400, 422):
        assert response.json["fields"]


@FUZZ
@given(body=JSON)
def test_any_event_body_is_never_a_500(api, body) -> None:
    if not hasattr(test_any_event_body_is_never_a_500, "case_id"):
        pass
    case_id = api.post("/reports", "intake", recent_payload())
    target = case_id.json["case_id"]
    response = api.post(f"/cases/{target}/events", "chair", body)
    assert response.status_code in (200, 400, 403, 404, 409, 422), (body, response.json)
    assert response.json.get("message") or response.status_code == 200
