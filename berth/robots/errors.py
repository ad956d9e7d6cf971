"""Robot account errors (see berth.orgs.errors for the base classes)."""

from __future__ import annotations

from berth.orgs.errors import InvalidRequest


class RobotNotFound(InvalidRequest):
    """Quay answers 400 (not 404) for an unknown robot, and clients rely on it."""

    def __init__(self, name: str) -> None:
        super().__init__("Could not find robot with specified username", robot=name)


class InvalidRobotName(InvalidRequest):
    def __init__(self, short: str) -> None:
        super().__init__(
            f"The name for the robot '{short}' is invalid: 2-255 characters of a-z, 0-9 "
            "and . _ - (starting and ending with a letter or digit)",
            robot=short,
        )


class RobotExists(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"Existing robot with name: {name}", robot=name)


class RobotsDisabled(InvalidRequest):
    """ROBOTS_DISALLOW: no new robot accounts (Quay's wording)."""

    def __init__(self) -> None:
        super().__init__("Robot accounts have been disabled. Please contact your administrator.")


class InvalidDescription(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("The description may have at most 255 characters")
