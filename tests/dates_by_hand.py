"""The seven date formats of transformer_edu.data written again without the package, from the calendar
module's English names, for tests that must not trust the package's own generator (not a test module)."""
import calendar
from datetime import date

BY_HAND = {  # DATE_FORMATS template -> how to write a date in it
    "{weekday}, {day} {month} {year}": lambda d, m, w: f"{w}, {d.day} {m} {d.year}",
    "{wkd} {day} {mon} {year}": lambda d, m, w: f"{w[:3]} {d.day} {m[:3]} {d.year}",
    "{month} {day}, {year}": lambda d, m, w: f"{m} {d.day}, {d.year}",
    "{day} {mon} {year}": lambda d, m, w: f"{d.day} {m[:3]} {d.year}",
    "{day}-{mon}-{year}": lambda d, m, w: f"{d.day}-{m[:3]}-{d.year}",
    "{mm}/{dd}/{year}": lambda d, m, w: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "{dd}.{mm}.{year}": lambda d, m, w: f"{d.day:02d}.{d.month:02d}.{d.year}",
}


def written_by_hand(day: date, template: str) -> str:
    """`day` in the format `template` names (one of BY_HAND's keys)."""
    return BY_HAND[template](day, calendar.month_name[day.month], calendar.day_name[day.weekday()])
