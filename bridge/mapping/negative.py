"""Is this feedback negative? The ``tickets.negative`` rule, applied to one event.

A review or survey response is negative when ANY active clause holds, checked in this
order (the first that holds is the one reported):

* ``rating_at_most``: a review's ``rating`` is at most N;
* ``sentiments``: a review's ``sentiment`` is in the list;
* ``nps_categories``: a survey response's NPS category is in the list (Okendo's
  ``answerNpsCategory``, or the standard bucket of the score when Okendo left it out);
* ``profanity``: a review's ``containsProfanity`` is true;
* ``keywords``: a word or phrase appears (case-insensitive, as a whole word) in a
  review's title or body, or in a survey answer.

Failure policy: missing data is "clause does not hold" (a deleted review has no rating),
never an error; the explanation says which data was missing, so an agent or admin
reading "not negative: no rating" knows why.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bridge.mapping.feedback import nps_of, searchable_texts
from bridge.mapping.model import TicketRule


def _listing(values) -> str:
    return "[" + ", ".join(values) + "]"


@lru_cache(maxsize=256)
def _keyword_pattern(keyword: str) -> re.Pattern:
    # Whole words only, so "fund" does not fire inside "refund"; an admin who wants
    # inflections lists them ("refund", "refunded").
    return re.compile(r"(?<!\w)" + re.escape(keyword.strip()) + r"(?!\w)", re.IGNORECASE)


def judge(rule: TicketRule, resource_type: str, resource: dict) -> tuple[bool, str]:
    """(negative, clause): whether the feedback is negative and the human-readable why."""
    resource = resource if isinstance(resource, dict) else {}
    is_review = resource_type == "review"
    is_survey = resource_type == "survey_response"
    not_held: list[str] = []

    if rule.rating_at_most is not None and is_review:
        rating = resource.get("rating")
        if isinstance(rating, int) and not isinstance(rating, bool):
            if rating <= rule.rating_at_most:
                return True, f"rating {rating} is at most {rule.rating_at_most}"
            not_held.append(f"rating {rating} > {rule.rating_at_most}")
        else:
            not_held.append("no rating")

    if rule.sentiments and is_review:
        sentiment = resource.get("sentiment")
        if isinstance(sentiment, str) and sentiment:
            if sentiment.lower() in rule.sentiments:
                return True, f"sentiment {sentiment!r} is in {_listing(rule.sentiments)}"
            not_held.append(f"sentiment {sentiment!r} not in {_listing(rule.sentiments)}")
        else:
            not_held.append("no sentiment")

    if rule.nps_categories and is_survey:
        nps = nps_of(resource)
        if nps is not None and nps.category:
            score = f" (score {nps.score})" if nps.score is not None else ""
            if nps.category in rule.nps_categories:
                return True, (f"NPS category {nps.category!r}{score} is in"
                              f" {_listing(rule.nps_categories)}")
            not_held.append(f"NPS category {nps.category!r}{score} not in"
                            f" {_listing(rule.nps_categories)}")
        else:
            not_held.append("no NPS answer")

    if rule.profanity and is_review:
        if resource.get("containsProfanity") is True:
            return True, "the review contains profanity"
        not_held.append("no profanity")

    if rule.keywords and (is_review or is_survey):
        texts = searchable_texts(resource)
        for keyword in rule.keywords:
            for where, text in texts:
                if _keyword_pattern(keyword).search(text):
                    return True, f"keyword {keyword!r} in {where}"
        not_held.append(f"no keyword of {_listing(rule.keywords)}")

    if not not_held:
        return False, f"not negative: no clause of the rule applies to {resource_type} events"
    return False, "not negative: " + ", ".join(not_held)
