"""Parsing of a client's reply: rating 1–5, verdict and comment (pure, no I/O)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.rating import Verdict, find_verdict, parse_reply

APPROVED = Verdict.APPROVED
OBJECTIONS = Verdict.OBJECTIONS


@pytest.mark.parametrize(("text", "rating"), [
    ("5", 5),
    ("  3 ", 3),
    ("5!", 5),
    ("1.", 1),
    ("оценка 4", 4),
    ("Оценка: 5", 5),
    ("оценка — 2", 2),
    ("ставлю 5", 5),
    ("оцениваю на 3", 3),
    ("оценку 4 из 5 ставлю", 4),
    ("4/5", 4),
    ("4 / 5", 4),
    ("3 из 5", 3),
    ("5 баллов", 5),
    ("4 звезды", 4),
    ("★★★★☆", 4),
    ("★★★★★", 5),
    ("★☆☆☆☆", 1),
    ("⭐⭐⭐", 3),
    ("⭐️⭐️⭐️⭐️", 4),
    ("👍", 5),
    ("👍🏻", 5),
    ("👎", 1),
    ("👎🏽 не то", 1),
])
def test_rating_recognised(text, rating):
    assert parse_reply(text).rating == rating


@pytest.mark.parametrize("text", [
    "по счёту БП-000123 всё ок",
    "Договор 17 ок",
    "№5",
    "#3",
    "п.3",
    "есть замечания по п.3",
    "оценка 45",
    "оценка 4,5",
    "оценка 4.5",
    "6",
    "0",
    "12/4/5",
    "п.4/5",
    "БП-4/5",
    "3 шт",
    "от 04.12.2026",
    "☆☆☆☆☆",
    "★★★★★★",
    "👍👎",
    "",
    "Спасибо",
])
def test_no_rating_in_numbers_or_plain_text(text):
    assert parse_reply(text).rating is None


@pytest.mark.parametrize(("text", "verdict"), [
    ("Согласовано", APPROVED),
    ("согласовываем", APPROVED),
    ("Согласны", APPROVED),
    ("подписываем", APPROVED),
    ("Подпишем сегодня", APPROVED),
    ("ок", APPROVED),
    ("OK", APPROVED),
    ("Окей, спасибо", APPROVED),
    ("всё верно", APPROVED),
    ("Все хорошо", APPROVED),
    ("замечаний нет", APPROVED),
    ("без замечаний", APPROVED),
    ("утверждаю", APPROVED),
    ("не согласны", OBJECTIONS),
    ("Не согласовано", OBJECTIONS),
    ("несогласны с суммой", OBJECTIONS),
    ("есть замечания", OBJECTIONS),
    ("Замечания: сумма неверна", OBJECTIONS),
    ("не подпишем в таком виде", OBJECTIONS),
    ("не ок", OBJECTIONS),
    ("нужны правки в п.2", OBJECTIONS),
    ("Согласовано, но есть замечания по п.3", OBJECTIONS),
    ("Спасибо, получили", None),
    ("Книга о клоках", None),
    ("", None),
])
def test_verdict_recognised(text, verdict):
    assert find_verdict(text) == verdict


def test_approval_with_rating_leaves_no_comment():
    reply = parse_reply("Согласовано, оценка 5")

    assert reply.rating == 5
    assert reply.verdict == APPROVED
    assert reply.comment == ""


def test_objection_text_kept_as_comment():
    reply = parse_reply("не согласны, есть замечания по п.3")

    assert reply.rating is None
    assert reply.verdict == OBJECTIONS
    assert reply.comment == "не согласны, есть замечания по п.3"


def test_document_number_is_not_a_rating():
    reply = parse_reply("по счёту БП-000123 всё ок")

    assert reply.rating is None
    assert reply.verdict == APPROVED
    assert reply.comment == "по счёту БП-000123 всё ок"
    assert reply.text_without_rating == "по счёту БП-000123 всё ок"


def test_fraction_rating_with_comment():
    reply = parse_reply("4/5, в целом хорошо, но долго")

    assert reply.rating == 4
    assert reply.comment == "в целом хорошо, но долго"


def test_stars_with_comment():
    reply = parse_reply("★★★★☆ не хватает печати")

    assert reply.rating == 4
    assert reply.comment == "не хватает печати"


def test_thumbs_up_alone():
    reply = parse_reply("👍")

    assert reply.rating == 5
    assert reply.verdict is None
    assert reply.comment == ""


def test_lone_digit_beside_verdict():
    reply = parse_reply("Согласовано, 5")

    assert reply.rating == 5
    assert reply.verdict == APPROVED
    assert reply.comment == ""


def test_rating_cut_from_middle_of_text():
    reply = parse_reply("Отлично, оценка 5. Спасибо!")

    assert reply.rating == 5
    assert reply.comment == "Отлично. Спасибо!"


def test_keyword_rating_wins_over_thumbs():
    assert parse_reply("оценка 3 👍").rating == 3


def test_multiline_comment_keeps_lines():
    reply = parse_reply("оценка 2\nСчёт пришёл поздно.\nПросим исправить дату.")

    assert reply.rating == 2
    assert reply.comment == "Счёт пришёл поздно.\nПросим исправить дату."


def test_plain_text_is_comment():
    reply = parse_reply("Получили, передали в бухгалтерию")

    assert reply.rating is None
    assert reply.verdict is None
    assert reply.comment == "Получили, передали в бухгалтерию"


@given(st.text(max_size=200))
def test_any_text_parses_within_range(text):
    reply = parse_reply(text)

    assert reply.rating is None or 1 <= reply.rating <= 5
    assert reply.verdict in (None, APPROVED, OBJECTIONS)
    assert isinstance(reply.comment, str)


@given(st.from_regex(r"[А-Яа-я]{2,5}-0{0,4}[1-9][0-9]{1,5}", fullmatch=True))
def test_document_numbers_never_rate(number):
    assert parse_reply(f"по документу {number} вопросов нет").rating is None
