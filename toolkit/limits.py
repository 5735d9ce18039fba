"""Field limits in one place: the models declare their columns with them and the forms check them.

One-line fields are `String(n)` columns, so the database itself holds them to the limit; the longer
free-text fields are `Text` columns, whose limit is ours alone (it keeps pages and PDFs sensible).
"""

from __future__ import annotations

# one-line values, each the length of its column
EMAIL = 320  # the longest address RFC 5321 allows
NAME = 200  # a person's name
TITLE = 200  # a set's, session's or agenda block's title
PROGRAMME = 200
PROGRAMME_YEAR = 20  # e.g. 2026-27
SLUG = 80  # a set's short id, used in links
KEY = 80  # a session's id within its set
TEMPLATE_ID = 80
URL = 500  # a video link
TIME_ZONE = 64
GRADE = 40
DUE = 40  # "by when" for an action
STATUS = 20
BANK_ID = 120  # a case, prompt or resource id
RESOURCE_TITLE = 300
RESOURCE_URL = 1000
PASSWORD = 200  # the text typed; the column holds its hash

# how many of a thing one set holds: a real set has 4-8 members and 4-12 sessions; the caps keep
# every page, print and set file quick, and the set file's import accepts exactly these
MEMBERS = 50
SESSIONS = 100
BLOCKS = 40  # per session
CASES = 20  # per session
PROMPTS = 100  # per session
RESOURCES = 50  # per session, for pre-work and for further reading each
ACTIONS = 1000  # per set

# free text in Text columns
VENUE = 500
GROUND_RULES = 5000
NOTES = 5000  # a block's facilitator notes
ACTION = 2000
SUPPORT = 500
OUTCOME = 2000
CANCEL_REASON = 2000
DESCRIPTION = 300  # a resource, in a line
RSVP_NOTE = 500  # a member's note with their reply, for the facilitator
MEMBER_LIST = 20000  # a pasted list of members, about 50 lines of name, e-mail and grade
EVALUATION_TEXT = 2000  # one free-text answer of a session's evaluation
REFLECTION = 5000  # each of a member's What? So what? Now what?
