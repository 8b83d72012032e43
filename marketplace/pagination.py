"""Pagination that never counts more than it must: COUNT(*) over tens of thousands of matches is
the slowest part of a browse or search page on a big table (benchmarks/README.md)."""

from functools import cached_property

from django.core.paginator import Paginator
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
    """DRF pagination whose `count` stops at 10,000 (then more pages may exist)."""

    django_paginator_class = CappedCountPaginator
