"""Reading a /metrics answer in tests: every sample by name and labels."""

from prometheus_client.parser import text_string_to_metric_families

from monitoring.metrics_collectors import scrape_memos_forget


class Scrape:
    """The samples of one scrape; `value(name, **labels)` is 0 for a series that is absent."""

    def __init__(self, text: str):
        self.text = text
        self.samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                self.samples[key] = sample.value

    def value(self, name: str, **labels) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels) -> float:
        """Sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def has_family(self, name: str) -> bool:
        return name in self.names()

    def has(self, name: str, **labels) -> bool:
        return (name, frozenset(labels.items())) in self.samples


def scrape(client, token: str) -> Scrape:
    """A scrape that reads the database afresh (the eval gate and drift are memoised 30 s)."""
    scrape_memos_forget()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return Scrape(response.content.decode())
