from .models import SuggestionRating


def rating_get(*, run_id, user) -> SuggestionRating | None:
    if run_id is None:
        return None
    return SuggestionRating.objects.filter(run_id=run_id, user=user).first()
