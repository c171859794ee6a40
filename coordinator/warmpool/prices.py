"""Lambda prices per region, with where each number comes from.

The planner compares provisioned concurrency against on-demand pre-warming region by region,
so each region must be priced by its own rates. Only US East (N. Virginia) is published in the
references this project may cite (docs/coldstart.md); any other region uses those rates,
marked ``assumed``, until an operator gives its own with ``SGC_WARMPOOL_PRICES`` (a JSON
object ``{"eu-west-2": {"provisioned_gb_s": ..., ...}}``) or ``sgc warmpool plan --prices``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace

ENVIRONMENT = "SGC_WARMPOOL_PRICES"
FIELDS = ("provisioned_gb_s", "provisioned_duration_gb_s", "on_demand_gb_s", "request_dollars")


@dataclass(frozen=True)
class RegionPrices:
    """Dollars per GB-s (provisioned allocation, duration on provisioned environments, duration
    on demand) and per request; ``source`` says where they come from."""

    provisioned_gb_s: float
    provisioned_duration_gb_s: float
    on_demand_gb_s: float
    request_dollars: float
    source: str

    @property
    def break_even_utilization(self) -> float:
        """Provisioned concurrency pays off above this busy share of its window."""
        return self.provisioned_gb_s / (self.on_demand_gb_s - self.provisioned_duration_gb_s)

    def to_dict(self) -> dict:
        return asdict(self)


US_EAST_1 = RegionPrices(0.0000041667, 0.0000097222, 0.0000166667, 0.20 / 1e6,
                         "AWS Lambda pricing page, US East (N. Virginia), x86")
PUBLISHED = {"us-east-1": US_EAST_1}


def for_region(region: str, overrides: dict[str, RegionPrices] | None = None) -> RegionPrices:
    """The region's prices: an override, the published table, or us-east-1's marked assumed."""
    if overrides and region in overrides:
        return overrides[region]
    if region in PUBLISHED:
        return PUBLISHED[region]
    return replace(US_EAST_1, source=f"assumed: us-east-1 rates (none published for {region}; "
                                     f"set {ENVIRONMENT})")


def parse(text: str, where: str = ENVIRONMENT) -> dict[str, RegionPrices]:
    """Per-region overrides from JSON; every error names ``where``, the region and the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object of regions, got {type(data).__name__}")
    result = {}
    for region, rates in data.items():
        if not isinstance(rates, dict) or set(rates) - set(FIELDS) - {"source"}:
            raise ValueError(f"{where}.{region}: expected an object with {', '.join(FIELDS)}")
        values = {}
        for name in FIELDS:
            value = rates.get(name, getattr(US_EAST_1, name))
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not 0 <= value < 1:
                raise ValueError(f"{where}.{region}.{name}: expected dollars in [0, 1), "
                                 f"got {value!r}")
            values[name] = float(value)
        if values["on_demand_gb_s"] <= values["provisioned_duration_gb_s"]:
            raise ValueError(f"{where}.{region}.on_demand_gb_s: must exceed "
                             "provisioned_duration_gb_s (else provisioning never pays off)")
        result[region] = RegionPrices(**values, source=str(rates.get("source", where)))
    return result
