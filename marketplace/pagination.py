"""Pagination that never counts more than it must: COUNT(*) over tens of thousands of matches is
the slowest part of a browse or search page on a big table (benchmarks/README.md)."""

import re
from functools import cached_property

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class CappedCountPaginator(Paginator):
    """Counts at most `max_count` matches; past the cap the page says "10,000+"."""

    max_count = 10_000

    @cached_property
    def _counted(self) -> int:
        # order_by(): a sliced count would otherwise keep ORDER BY inside its subquery.
        return self.object_list.order_by()[: self.max_count + 1].count()

    @property
    def count(self) -> int:
        return min(self._counted, self.max_count)

    @property
    def count_is_capped(self) -> bool:
        return self._counted > self.max_count


class CappedPageNumberPagination(PageNumberPagination):
    """DRF pagination whose `count` stops at 10,000 (then more pages may exist).

    `page` is a whole number from 1 (a 400 otherwise, like any other bad query parameter); a page
    past the last one is a 404."""

    django_paginator_class = CappedCountPaginator
    max_page = 1_000_000
    last_page_strings = ()  # the schema says `page` is an integer: no `page=last`
    invalid_page_message = "There is no page {page_number} of these results."

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not re.fullmatch(r"[0-9]{1,9}", raw) or not 1 <= int(raw) <= self.max_page:
            message = f"Use a whole number from 1 to {self.max_page:,}."
            raise ValidationError({self.page_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page)
        return parameters
