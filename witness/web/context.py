"""Template context: the navigation a user's roles allow."""

from witness.org import services as org


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_roles": frozenset()}
    return {"nav_roles": org.current_roles_of_user(user)}
