from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People, teams and credentials"

    def ready(self) -> None:
        from accounts import sudo  # noqa: F401  (connects the log-in receiver)
