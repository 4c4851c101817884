import pytest

from bloodbank import services
from bloodbank.models import Component, UnitStatus


@pytest.fixture
def stock(bob):
    """``stock(hospital, group, n=1, component=red cells, status=available)`` adds units."""

    def add(hospital, blood_group, n=1, *, component=Component.RED_CELLS, status=UnitStatus.AVAILABLE, **extra):
        return [
            services.unit_create(
                hospital=hospital, component=component, blood_group=blood_group, by=bob, status=status, **extra
            )
            for _ in range(n)
        ]

    return add
