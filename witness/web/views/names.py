"""Display names of activity types (the codes are the profile's, ACT-1)."""

from witness.profiles.models import ProfileActivation
from witness.profiles.services import profile_of


def type_names(agency) -> dict[str, str]:
    """Code -> name over every profile version the agency has applied (later ones win),
    so an activity recorded under an earlier version still shows its name."""
    names: dict[str, str] = {}
    activations = (ProfileActivation.objects.filter(agency=agency).select_related("version")
                   .order_by("effective_from", "id"))
    for activation in activations:
        for activity_type in profile_of(activation.version).activity_types:
            names[activity_type.code] = activity_type.name
    return names
