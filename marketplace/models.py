from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """Trova's user. Its own model from day one, so fields can be added without a migration war."""

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
