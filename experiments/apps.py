from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    """A/B rollout that knows no AI: experiments, arms with an opaque payload, sticky assignment,
    ramp, kill switch, exposure log and the statistics on plain arrays. Imports only marketplace;
    ai_prefill turns an arm's payload into a configuration."""

    name = "experiments"
    verbose_name = "Experiments"
