"""Reading a pasted list of members: what is added, what is refused and why, line by line."""

from toolkit import limits
from toolkit.sets.member_list import read_member_list


def test_comma_and_spreadsheet_lines_with_a_heading_row_and_blank_lines():
    text = (
        "Name\tE-mail\tGrade\n"
        "Zoë Marsh\tzoe@example.nhs.uk\tFY2\n"
        "\n"
        "Łukasz Nowak, lukasz@example.nhs.uk, CT1\r\n"
        "Amara Okafor <amara@example.nhs.uk>, FY1\n"
        "tom@example.nhs.uk, Tom Reid\n"
    )
    found = read_member_list(text, [], 50)
    assert [(m.line, m.name, m.email, m.grade) for m in found.add] == [
        (2, "Zoë Marsh", "zoe@example.nhs.uk", "FY2"),
        (4, "Łukasz Nowak", "lukasz@example.nhs.uk", "CT1"),
        (5, "Amara Okafor", "amara@example.nhs.uk", "FY1"),
        (6, "Tom Reid", "tom@example.nhs.uk", ""),
    ]
    assert [(r.line, r.reason) for r in found.refused] == [
        (1, "This looks like a heading row, so it was skipped.")
    ]


def test_bad_lines_are_refused_with_their_line_numbers_and_a_sentence():
    text = "\n".join(
        [
            "Zoë Marsh",  # no address
            "Zoë Marsh, zoe@, FY2",  # not an address
            "a@example.nhs.uk, b@example.nhs.uk",  # two addresses
            "zoe@example.nhs.uk",  # no name
            "Zoë, Marsh, zoe@example.nhs.uk, FY2",  # a comma in the name
            "Zoë Marsh, zoe@example.nhs.uk, " + "F" * (limits.GRADE + 1),
        ]
    )
    found = read_member_list(text, [], 50)
    assert found.add == []
    reasons = {r.line: r.reason for r in found.refused}
    assert reasons == {
        1: "This line has no e-mail address; give one per member.",
        2: "The e-mail address “zoe@” is not valid.",
        3: "This line has more than one e-mail address; give one per member.",
        4: "This line has no name; put the name before the e-mail.",
        5: "This line has too many parts; give name, e-mail and grade only.",
        6: f"The grade is longer than {limits.GRADE} characters.",
    }
    assert all(r[0].isupper() and r.endswith(".") for r in reasons.values())


def test_duplicates_within_the_list_and_with_the_set_are_refused():
    text = "Zoë Marsh, zoe@example.nhs.uk\nZoe Marsh, ZOE@example.nhs.uk\nTom, tom@example.nhs.uk"
    found = read_member_list(text, ["tom@example.nhs.uk"], 50)
    assert [m.email for m in found.add] == ["zoe@example.nhs.uk"]
    assert [(r.line, r.reason) for r in found.refused] == [
        (2, "zoe@example.nhs.uk is also on line 1; it is added once."),
        (3, "tom@example.nhs.uk is already a member of this set."),
    ]


def test_the_member_cap_refuses_lines_beyond_the_room_left():
    text = "\n".join(f"Member {n}, m{n}@example.nhs.uk, FY1" for n in range(1, 6))
    found = read_member_list(text, [f"x{n}@example.nhs.uk" for n in range(47)], 3)
    assert [m.line for m in found.add] == [1, 2, 3]
    assert [r.line for r in found.refused] == [4, 5]
    assert f"at most {limits.MEMBERS} members" in found.refused[0].reason


def test_nul_bytes_and_unicode_line_separators():
    text = "Zoë\x00Marsh, zoe@example.nhs.uk, FY2\u2028Tom Reid, tom@example.nhs.uk\u2029\x85"
    found = read_member_list(text, [], 50)
    assert [(m.line, m.name, m.grade) for m in found.add] == [
        (1, "Zoë Marsh", "FY2"),
        (2, "Tom Reid", ""),
    ]
    assert found.refused == []
    assert all("\x00" not in m.name + m.email + m.grade for m in found.add)


def test_a_refused_line_is_shown_on_one_line_and_not_too_long():
    found = read_member_list("x" * 500 + "\tnobody", [], 50)
    shown = found.refused[0].text
    assert len(shown) <= 120 and "\t" not in shown
