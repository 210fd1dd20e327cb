"""The model's vocabulary: the states a client can be in, the gauges, the flows, and the times
kept in each client's record. The world changes them; the record (sim.record) observes them."""

from __future__ import annotations

#: The states of a client; at every moment each client is in exactly one.
STATES = (
    "waiting",  # on the external waitlist (possibly bridged)
    "in_care",  # in a BW place, stay not yet ended
    "ready_to_leave",  # in a BW place, stay ended, waiting for a home
    "ambulant_waiting",  # left BW for a home, waiting for an ambulant support slot
    "ambulant",  # left BW, receiving ambulant support
    "at_home",  # ambulant support ended, may still relapse
    "beschermd_thuis",  # BW-level support at home instead of a place (ambulantisering)
    "withdrawn",  # left the waitlist without being placed
    "removed_by_review",  # taken off the list after a waitlist review interview
    "turned_away",  # found the waitlist full
    "exit_intramural",  # left to another intramural setting (Wlz, GGZ, other BW)
    "exit_died_or_moved",  # died or moved out of the region
    "exit_early",  # left care before the stay ended
    "relapsed",  # came back into the inflow (counted again as a new entry)
)
#: Other gauges with a time integral (not part of the partition of clients).
GAUGES = ("bridged", "bridging_waiting", "places", "outside_contract", "contingent_waiting", "above_contract",
          "stock_waiting",  # ready to leave, waiting for a unit of the housing stock
          "stock_units", "stock_occupied",  # the housing stock's units, and those held by a tenant
          "pgb_places", "pgb_occupied")  # the places of PGB-funded providers (financing: pgb), and their residents
LEVELS = STATES + GAUGES
#: Index of each level by name.
LEVEL = {name: i for i, name in enumerate(LEVELS)}

FLOWS = (
    "arrivals",  # new entries to the inflow, relapses included
    "relapses",
    "admissions",
    "withdrawals",
    "turned_away",
    "became_ready_to_leave",  # stays that ended with a need for a home
    "contingent_housed",
    "exits_independent",
    "exits_intramural",
    "exits_died_or_moved",
    "exits_early",
    "bridging_starts",
    "review_removals",
    "beschermd_thuis_starts",
    "outside_contract_placements",
    "conversions",  # residents entering with places converted from elsewhere (e.g. MO)
    "above_contract_placements",  # placed above the provider's contracted places (overschrijding)
    "stock_housed",  # residents ready to leave who got a unit of the housing stock
    "stock_left",  # tenants leaving a unit of the housing stock (tenancies on the start date included)
    "stock_relapses",  # of whom came back into the inflow (counted in relapses too)
)
#: Index of each flow by name.
FLOW = {name: i for i, name in enumerate(FLOWS)}

#: How a client left the waitlist (the monitor's journey rows).
JOURNEY_PLACED, JOURNEY_WITHDRAWN = 0, 1

#: The times kept in each client's record (days since the start; NaN when it did not happen).
RECORD_TIMES = ("arrived", "listed", "bridging_start", "bridging_end", "placed", "ready",
                "housed", "exited")
