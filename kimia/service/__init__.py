"""The service layer: one DB transaction per operation, exactly once, race-free."""

from kimia.service.admin import Admin
from kimia.service.api import Kimia, MemberRef, PurchaseRequest

__all__ = ["Admin", "Kimia", "MemberRef", "PurchaseRequest"]
