"""The label catalogue: what people read for the workflow's ids, in Vietnamese and English.

Ids stay English in code, API and data; pages (through web/labels.py) and notification
texts (casework/notify.py) read their names here, so a state is called the same on a page
and in an e-mail. casework does not import Flask: the catalogue is plain data, and a test
fails when a state, event, step, clock, role or status of the workflow lacks a language.
"""

from __future__ import annotations

import re

LANGUAGES = ("vi", "en")
DEFAULT = "vi"

#: kind -> id -> (Vietnamese, English)
CATALOGUE: dict[str, dict[str, tuple[str, str]]] = {
    # A case's state, as a heading or in a list.
    "state": {
        "received": ("Tiếp nhận", "Received"),
        "transferred": ("Đã chuyển về xã", "Transferred to commune"),
        "initial_assessment": ("Đánh giá ban đầu", "Initial assessment"),
        "emergency_protection": ("Bảo vệ khẩn cấp", "Emergency protection"),
        "specific_assessment": ("Đánh giá cụ thể", "Specific assessment"),
        "plan_drafting": ("Xây dựng kế hoạch", "Plan drafting"),
        "plan_approval": ("Phê duyệt kế hoạch", "Plan approval"),
        "implementing": ("Thực hiện kế hoạch", "Implementing the plan"),
        "reviewing": ("Rà soát, đánh giá", "Reviewing"),
        "closed": ("Kết thúc", "Closed"),
    },
    # A step in a sentence ("the … step is due").
    "step": {
        "received": ("tiếp nhận", "intake"),
        "transferred": ("phân công xử lý", "assignment"),
        "initial_assessment": ("đánh giá ban đầu", "initial assessment"),
        "emergency_protection": ("quyết định khẩn cấp", "emergency decision"),
        "specific_assessment": ("đánh giá cụ thể", "specific assessment"),
        "plan_drafting": ("xây dựng kế hoạch", "plan drafting"),
        "plan_approval": ("phê duyệt kế hoạch", "plan approval"),
        "implementing": ("thực hiện kế hoạch", "implementation"),
        "reviewing": ("rà soát", "review"),
        "closed": ("kết thúc", "closure"),
    },
    "event": {
        "receive": ("Tiếp nhận thông tin", "Report received"),
        "transfer": ("Chuyển về xã", "Transfer to the commune"),
        "accept": ("Tiếp nhận và phân công", "Accept and assign"),
        "assess": ("Đánh giá ban đầu (Mẫu 02)", "Initial assessment (Form 02)"),
        "mark_unfounded": ("Kết thúc do không xác minh được", "Close as unfounded"),
        "decide_emergency": ("Quyết định khẩn cấp", "Emergency decision"),
        "complete_assessment": ("Đánh giá cụ thể (Mẫu 03)", "Specific assessment (Form 03)"),
        "submit_plan": ("Trình kế hoạch (Mẫu 04)", "Submit the plan (Form 04)"),
        "approve_plan": ("Phê duyệt kế hoạch (Mẫu 05)", "Approve the plan (Form 05)"),
        "return_plan": ("Trả lại kế hoạch", "Return the plan"),
        "start_review": ("Bắt đầu rà soát", "Start the review"),
        "close": ("Kết thúc ca (Mẫu 06)", "Close the case (Form 06)"),
        "replan": ("Xây dựng kế hoạch mới", "Make a new plan"),
        "reopen": ("Mở lại", "Reopen"),
        "assign": ("Phân công người phụ trách", "Assign the officer"),
        "transfer_out": ("Chuyển xã khác", "Transfer to another commune"),
        "extend_separation": ("Gia hạn tạm thời cách ly", "Extend the temporary separation"),
        "end_separation": ("Chấm dứt tạm thời cách ly", "End the temporary separation"),
    },
    # A clock, by its rule (agency clocks are named with their agency where shown).
    "rule": {
        "transfer": ("Chuyển về xã", "Transfer to the commune"),
        "assignment": ("Phân công xử lý", "Assignment"),
        "initial_assessment": ("Đánh giá ban đầu", "Initial assessment"),
        "emergency_decision": ("Quyết định khẩn cấp", "Emergency decision"),
        "plan_submission": ("Trình kế hoạch", "Plan submission"),
        "plan_approval": ("Phê duyệt kế hoạch", "Plan approval"),
        "review": ("Rà soát, đánh giá", "Review"),
        "separation_end": ("Hết hạn tạm thời cách ly", "End of the temporary separation"),
        "task_response": ("Trả lời đề nghị phối hợp", "Answer to the referral"),
        "task_completion": ("Hoàn thành nhiệm vụ", "Task completed"),
    },
    # A clock with a name of its own (not its step's), in a sentence.
    "clock": {
        "separation_end": (
            "quyết định khi hết hạn tạm thời cách ly",
            "decision at the end of the temporary separation",
        ),
    },
    # Phrases with a slot.
    "phrase": {"agency_task": ("nhiệm vụ của {agency}", "task for {agency}")},
    "deadline_status": {
        "open": ("đang chạy", "open"),
        "overdue": ("quá hạn", "overdue"),
        "met": ("đúng hạn", "met"),
        "met_late": ("trễ hạn", "met late"),
        "cancelled": ("huỷ", "cancelled"),
    },
    "task_action": {
        "accept": ("nhận thực hiện", "accept"),
        "decline": ("từ chối", "decline"),
        "complete": ("đã hoàn thành", "complete"),
        "progress": ("cập nhật tiến độ", "record progress"),
    },
    "task_status": {
        "proposed": ("chờ trả lời", "awaiting an answer"),
        "accepted": ("đã nhận", "accepted"),
        "declined": ("từ chối", "declined"),
        "done": ("đã hoàn thành", "done"),
        "superseded": ("được thay thế", "superseded"),
        "cancelled": ("huỷ", "cancelled"),
    },
    "rung": {
        "reminded": ("Đã nhắc hạn", "Reminder sent"),
        "overdue": ("Quá hạn", "Overdue"),
        "escalated": ("Đã chuyển cấp tỉnh", "Escalated to the province"),
    },
    "role": {
        "intake": ("Cán bộ tiếp nhận thông tin", "Intake staff"),
        "officer": ("Cán bộ bảo vệ trẻ em cấp xã", "Commune child-protection officer"),
        "chair": ("Chủ tịch UBND cấp xã", "Commune chairperson"),
        "province": ("Cán bộ cấp tỉnh", "Province office"),
        "agency": ("Cơ quan phối hợp", "Partner agency"),
        "admin": ("Quản trị hệ thống", "Administrator"),
    },
    "agency": {
        "police": ("công an", "police"),
        "health": ("y tế", "health"),
        "education": ("giáo dục", "education"),
        "justice": ("tư pháp", "justice"),
        "social_services": ("dịch vụ xã hội", "social services"),
        "other": ("cơ quan khác", "other agency"),
    },
    "sex": {
        "female": ("nữ", "female"),
        "male": ("nam", "male"),
        "unknown": ("không rõ", "unknown"),
    },
    "risk": {
        "low": ("thấp", "low"),
        "medium": ("trung bình", "medium"),
        "high": ("cao", "high"),
        "serious": ("tổn hại nghiêm trọng", "serious harm"),
    },
    # The fields of events and reports (FieldSpec.label_key).
    "field": {
        "abuse_types": ("Hình thức xâm hại", "Forms of abuse"),
        "abuser_access": ("Khả năng tiếp cận của người gây hại", "Abuser's access to the child"),
        "action": ("Việc cần làm", "Action"),
        "address": ("Địa chỉ", "Address"),
        "age_years": ("Tuổi (ước tính)", "Age (estimated)"),
        "agency_kind": ("Cơ quan thực hiện", "Agency"),
        "anonymous": ("Giấu tên", "Anonymous"),
        "answer": ("Trả lời", "Answer"),
        "assignee": ("Người phụ trách", "Officer responsible"),
        "assignee_name": ("Người phụ trách", "Officer responsible"),
        "attachment_kind": ("Loại tài liệu", "Kind of document"),
        "attachment_title": ("Tên tài liệu", "Title"),
        "auto_transfer": ("Chuyển ngay về xã", "Transfer to the commune at once"),
        "birth_date": ("Ngày sinh", "Date of birth"),
        "channel": ("Kênh tiếp nhận", "Channel"),
        "child": ("Trẻ em", "Child"),
        "description": ("Nội dung thông tin", "What was reported"),
        "destination_unit": ("Xã, phường chuyển đến", "Commune to transfer to"),
        "due_date": ("Thời hạn", "Due date"),
        "findings": ("Kết quả xác minh", "Findings"),
        "full_name": ("Họ và tên", "Full name"),
        "harm": ("Mức độ tổn hại", "Harm"),
        "incident_unit_code": ("Xã, phường nơi xảy ra", "Commune where it happened"),
        "kind": ("Loại thông tin", "Kind of contact"),
        "link_case_id": ("Gắn vào ca đã có", "Link to an existing case"),
        "different_child_case_ids": ("Là trẻ khác", "A different child"),
        "nuisance": ("Cuộc gọi không có thông tin ca", "Contact without case data"),
        "measures": ("Biện pháp khẩn cấp", "Emergency measures"),
        "meeting_minutes": ("Biên bản họp", "Meeting minutes"),
        "name": ("Họ và tên người báo tin", "Reporter's name"),
        "national_id": ("Số định danh cá nhân", "Personal identification number"),
        "needs": ("Nhu cầu của trẻ", "The child's needs"),
        "note": ("Ghi chú", "Note"),
        "online": ("Xâm hại trên môi trường mạng", "Online abuse"),
        "phone": ("Số điện thoại", "Phone"),
        "placement": ("Nơi trẻ về", "Where the child goes"),
        "plan_measures": ("Các biện pháp của kế hoạch", "Measures of the plan"),
        "reason": ("Lý do", "Reason"),
        "received_at": ("Thời điểm tiếp nhận", "Received at"),
        "relation": ("Quan hệ với trẻ", "Relation to the child"),
        "reporter": ("Người báo tin", "Reporter"),
        "same_child": ("Là cùng một trẻ", "The same child"),
        "version": ("Phiên bản đã đọc", "Version read"),
        "responsible": ("Người chịu trách nhiệm", "Person responsible"),
        "residence_unit": ("Xã, phường nơi cư trú", "Commune of residence"),
        "review": ("Kết quả rà soát (Mẫu 06)", "Review (Form 06)"),
        "review_environment": ("Môi trường sống", "Living environment"),
        "risk_level": ("Mức độ nguy cơ", "Risk level"),
        "separation": ("Tạm thời cách ly", "Temporary separation"),
        "separation_until": ("Cách ly đến ngày", "Separated until"),
        "sex": ("Giới tính", "Sex"),
        "shelter": ("Nơi tạm trú an toàn", "Safe shelter"),
        "unit_code": ("Xã, phường", "Commune"),
        "verified": ("Đã xác minh", "Verified"),
        "environment": ("Môi trường xảy ra", "Where it happened"),
        # Administrative units, agencies and their focal points (the administrators' forms).
        "official_code": ("Mã đơn vị hành chính", "Official code"),
        "unit_name": ("Tên đơn vị", "Name of the unit"),
        "unit_level": ("Cấp", "Level"),
        "parent_code": ("Mã đơn vị cấp trên", "Code of the unit it belonged to"),
        "valid_from": ("Có hiệu lực từ ngày", "In force from"),
        "valid_to": ("Có hiệu lực đến ngày", "In force until"),
        "agency_type": ("Loại cơ quan", "Kind of agency"),
        "agency_name": ("Tên cơ quan", "Name of the agency"),
        "contact_name": ("Họ và tên", "Full name"),
        "position": ("Chức vụ", "Position"),
        "email": ("Thư điện tử", "E-mail"),
        # Accounts (the administrators' forms, casework/services/users.py).
        "username": ("Tên đăng nhập", "Username"),
        "role": ("Vai trò", "Role"),
        "unit": ("Đơn vị (tỉnh hoặc xã, phường)", "Unit (province or commune)"),
        "agency": ("Cơ quan phối hợp", "Partner agency"),
        "initial_password": (
            "Mật khẩu ban đầu (để trống: hệ thống tạo mật khẩu tạm)",
            "Initial password (leave blank for a temporary one)",
        ),
        "token_name": ("Tên mã truy cập (dùng cho việc gì)", "Token name (what it is for)"),
        "expires_on": ("Hết hạn vào cuối ngày", "Expires at the end of"),
        # Calendars and workflow settings (casework/services/settings.py).
        "day": ("Ngày", "Date"),
        "day_kind": ("Loại ngày", "Kind of day"),
        "duration": ("Thời hạn", "Time limit"),
        "duration_unit": ("Đơn vị tính", "Counted in"),
        "high_risk_duration": ("Thời hạn khi nguy cơ cao", "Time limit when the risk is high"),
        "assignee_role": ("Người chịu trách nhiệm", "Responsible role"),
        "ladder": ("Các mức nhắc hạn, chuyển cấp", "Reminders and escalation"),
        "legal_source": ("Căn cứ pháp lý", "Legal basis"),
        "effective_on": ("Áp dụng từ ngày", "In force from"),
        "rung": ("Mức", "Step of the ladder"),
        "at_percent": ("Khi đã qua (% thời hạn)", "When this share of the time has passed (%)"),
        "offset": ("Sau hạn", "After the due time"),
        "offset_unit": ("Đơn vị của khoảng sau hạn", "Unit of the time after the due time"),
        "notify": ("Báo cho", "Notify"),
    },
    "unit_level": {
        "province": ("tỉnh, thành phố", "province"),
        "district": ("huyện (cũ)", "district (former)"),
        "commune": ("xã, phường", "commune or ward"),
    },
    "duration_unit": {
        "hours": ("giờ", "hours"),
        "calendar_days": ("ngày", "calendar days"),
        "working_days": ("ngày làm việc", "working days"),
    },
    "day_kind": {
        "off": ("ngày nghỉ thêm", "extra day off"),
        "work": ("ngày làm bù", "weekend day worked"),
    },
    "rung_kind": {
        "reminded": ("Nhắc hạn", "Reminder"),
        "overdue": ("Báo quá hạn", "Overdue notice"),
        "escalated": ("Chuyển lên cấp tỉnh", "Escalation to the province"),
    },
    "recipient": {
        "assignee": ("người được phân công", "the assignee"),
        "chair": ("Chủ tịch UBND cấp xã", "the commune chairperson"),
        "province": ("cơ quan cấp tỉnh", "the province office"),
        "agency": ("cơ quan phối hợp", "the partner agency"),
        "agency_supervisor": ("lãnh đạo cơ quan phối hợp", "the agency's supervisor"),
    },
    "placement": {
        "family": ("gia đình", "family"),
        "relatives": ("người thân thích", "relatives"),
        "foster_care": ("chăm sóc thay thế", "foster care"),
        "care_facility": ("cơ sở trợ giúp xã hội", "care facility"),
        "other": ("nơi khác", "elsewhere"),
    },
    "attachment_kind": {
        "minutes": ("biên bản đã ký", "signed minutes"),
        "decision": ("quyết định", "decision"),
        "other": ("tài liệu khác", "other document"),
    },
    "review_level": {
        "low": ("thấp", "low"),
        "medium": ("trung bình", "medium"),
        "high": ("cao", "high"),
    },
    "report_kind": {
        "abuse_report": ("tin báo xâm hại, nguy cơ", "report of abuse or risk"),
        "advice": ("tư vấn", "advice only"),
    },
    "channel": {
        "hotline_111": ("Tổng đài 111", "Hotline 111"),
        "provincial_hotline": ("Đường dây nóng tỉnh", "Provincial hotline"),
        "police": ("công an", "police"),
        "health": ("y tế", "health"),
        "welfare": ("cơ sở trợ giúp xã hội", "welfare"),
        "commune": ("UBND xã", "commune"),
        "school": ("trường học", "school"),
        "walk_in": ("trực tiếp", "walk-in"),
        "other": ("khác", "other"),
    },
    "abuse_type": {
        "violence": ("bạo lực", "violence"),
        "exploitation": ("bóc lột", "exploitation"),
        "sexual_abuse": ("xâm hại tình dục", "sexual abuse"),
        "trafficking": ("mua bán", "trafficking"),
        "abandonment": ("bỏ rơi", "abandonment"),
        "neglect": ("bỏ mặc", "neglect"),
        "other": ("khác", "other"),
    },
    "environment": {
        "family": ("gia đình", "family"),
        "school": ("trường học", "school"),
        "community": ("cộng đồng", "community"),
        "online": ("trên mạng", "online"),
        "other": ("khác", "other"),
    },
    "match_reason": {
        "name": ("cùng họ tên", "same name"),
        "name_folded": ("họ tên giống khi bỏ dấu", "same name without diacritics"),
        "birth_date": ("cùng ngày sinh", "same birth date"),
        "birth_year": ("cùng năm sinh", "same birth year"),
        "age": ("tuổi tương đương", "similar age"),
        "commune": ("cùng xã", "same commune"),
        "sex": ("cùng giới tính", "same sex"),
        "name_close": ("họ tên gần giống (sai một, hai ký tự)", "a close name (a typo or two)"),
        "national_id": ("cùng số định danh cá nhân", "same personal identification number"),
        "reporter_phone": ("cùng số điện thoại người báo tin", "same reporter's phone"),
        "marked_different": ("đã xác định là trẻ khác", "marked as a different child"),
    },
    # Contacts without case data (the intake page counts them).
    "nuisance": {
        "silent": ("Cuộc gọi im lặng", "Silent call"),
        "hang_up": ("Gọi rồi ngắt máy", "Hang-up"),
        "wrong_number": ("Gọi nhầm số", "Wrong number"),
        "prank": ("Gọi trêu đùa, quấy rối", "Prank call"),
        "thanks": ("Gọi cảm ơn", "Thanks"),
    },
}


def _lang(lang: str | None) -> int:
    return LANGUAGES.index(lang) if lang in LANGUAGES else LANGUAGES.index(DEFAULT)


def text(kind: str, value: str | None, lang: str | None) -> str:
    """The label of `value` (an id of `kind`) in `lang`; an unknown id shows as itself."""
    if value is None:
        return "—"
    table = CATALOGUE[kind]
    if kind == "rule" and value not in table and "." in value:
        value = value.split(".", 1)[0]  # task_response.police -> task_response
    entry = table.get(value)
    return entry[_lang(lang)] if entry else value


_ARTICLE = re.compile(
    r"Arts?\. (?P<art>\d+(?:[–-]\d+)?)(?:\((?P<clause>\d+)\))?(?:\((?P<point>[a-zđ])\))?"
)
#: How a source names an act, and the act's name in each language (a bare article is NĐ 56).
_ACTS = (
    ("NĐ 56/2017", ("Nghị định 56/2017/NĐ-CP", "Decree 56/2017/NĐ-CP")),
    ("NĐ 56", ("Nghị định 56/2017/NĐ-CP", "Decree 56/2017/NĐ-CP")),
    ("Luật Trẻ em", ("Luật Trẻ em 2016", "Law on Children 2016")),
    ("", ("Nghị định 56/2017/NĐ-CP", "Decree 56/2017/NĐ-CP")),
)
_NOTES = {
    "(date set in the plan)": ("(ngày ghi trong kế hoạch)", "(date set in the plan)"),
    "TTHC": ("thủ tục hành chính", "administrative procedure"),
}


def agency_task(agency_kind: str, lang: str | None) -> str:
    """'task for police' / 'nhiệm vụ của công an'."""
    return text("phrase", "agency_task", lang).format(agency=text("agency", agency_kind, lang))


def cite(source: str, lang: str | None) -> str:
    """A legal citation as an official writes it: "NĐ 56/2017 Art. 30(1)(b)" is "điểm b
    khoản 1 Điều 30 Nghị định 56/2017/NĐ-CP" in Vietnamese and "Decree 56/2017/NĐ-CP,
    Art. 30(1)(b)" in English."""
    index = _lang(lang)
    parts = []
    for piece in (part.strip() for part in source.split(";")):
        prefix, names = next((p, n) for p, n in _ACTS if piece.startswith(p))
        rest = piece[len(prefix) :].strip()
        match = _ARTICLE.match(rest)
        if match is None:
            for raw, texts in _NOTES.items():
                piece = piece.replace(raw, texts[index])
            parts.append(piece)
            continue
        if index == 0:
            words = [f"điểm {match['point']}"] if match["point"] else []
            words += [f"khoản {match['clause']}"] if match["clause"] else []
            cited = " ".join([*words, f"Điều {match['art']}", names[0]])
        else:
            cited = f"{names[1]}, {match.group(0)}"
        note = rest[match.end() :].strip()
        for raw, texts in _NOTES.items():
            note = note.replace(raw, texts[index])
        parts.append(f"{cited} {note}".strip())
    return "; ".join(parts)
