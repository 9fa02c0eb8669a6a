"""One made-up world for the demo, the tests, the benchmarks and the terminal simulator.

- :mod:`kimia.world.people`: valid Iranian identifiers (the n-th of a kind, or seeded at random);
- :mod:`kimia.world.builder`: :class:`WorldBuilder`, which makes clubs, merchants, terminals,
  members, rules and offers through the service's public calls, on a service built by
  :func:`kimia.app.assemble` (the one place kimia is constructed);
- :mod:`kimia.world.roster`: what the members carry (cards, mobiles, PINs), kept in process
  memory or a demo-only file, never in the database.

The demo itself (``kimia demo``) is :mod:`kimia.demo_club`, built on these.
"""

from kimia.world.builder import Shop, WorldBuilder, points_rule
from kimia.world.roster import Cardholder, Roster, database_key, roster_path_for

__all__ = ["Cardholder", "Roster", "Shop", "WorldBuilder", "database_key", "points_rule", "roster_path_for"]
