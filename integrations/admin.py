"""Django admin for credentials. Tokens show only as …last4 and can never be edited here."""

from django.contrib import admin
from django.http import HttpRequest

from integrations.models import Credential, PulsoidGrant


class PulsoidGrantInline(admin.StackedInline):
    """Whether a Pulsoid credential came through OAuth; the refresh token itself is never shown."""

    model = PulsoidGrant
    fields = ()
    can_delete = False
    extra = 0
    max_num = 0
    verbose_name = "connected through Pulsoid sign-in"


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ["label", "service", "team", "masked", "health", "linked_by", "linked_at"]
    list_filter = ["service", "health"]
    search_fields = ["label", "team__name"]
    # The token column is excluded outright: no widget, no value, not even ciphertext.
    exclude = ["ciphertext"]
    readonly_fields = [
        "masked",
        "linked_by",
        "linked_at",
        "last_used_at",
        "last_used_by",
        "health",
        "health_detail",
        "checked_at",
        "scopes",
        "expires_at",
    ]
    inlines = [PulsoidGrantInline]

    @admin.display(description="token")
    def masked(self, obj: Credential) -> str:
        return obj.masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are linked through the portal, where they are checked first
