"""One made-up world for the demo, the tests, the benchmarks and the terminal simulator.

- :mod:`kimia.world.people`: valid Iranian identifiers (the n-th of a kind, or seeded at random);
- :mod:`kimia.world.builder`: :class:`WorldBuilder`, which makes clubs, merchants, terminals,
  members, rules and offers through the service's public calls, and :func:`open_service`, the one
  place a world constructs kimia;
- :mod:`kimia.world.roster`: what the members carry (cards, mobiles, PINs), kept in process
  memory or a demo-only file, never in the database.

The demo itself (``kimia demo``) is :mod:`kimia.demo_club`, built on these.
"""

from kimia.world.builder import Shop, WorldBuilder, open_service, points_rule
from kimia.world.roster import Cardholder, Roster, database_key, roster_path_for

__all__ = ["Cardholder", "Roster", "Shop", "WorldBuilder", "database_key", "open_service", "points_rule", "roster_path_for"]
