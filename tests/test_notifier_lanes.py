"""The notifier's lane connections on a real PostgreSQL: two deliveries on one lane at once (a
batch cut short by its budget still running when the next batch takes the lane) each get a
connection of their own; neither fails, and the lane keeps one connection afterwards."""

from __future__ import annotations

import asyncio

from services.notifier.repository import Deliveries, LaneConnections, PgDeliveries


def test_two_deliveries_on_one_lane_at_once_both_complete(database_url: str) -> None:
    lanes = LaneConnections(database_url)

    async def slow(deliveries: Deliveries) -> int:
        assert isinstance(deliveries, PgDeliveries)
        return int(await deliveries.connection.fetchval("SELECT 1 FROM pg_sleep(0.3)"))

    async def main() -> list[int]:
        await lanes.in_transaction(0, slow, connect_timeout=10)  # the lane keeps a connection
        results = await asyncio.gather(
            lanes.in_transaction(0, slow, connect_timeout=10),
            lanes.in_transaction(0, slow, connect_timeout=10),
        )
        assert len(lanes._connections) == 1  # one kept for the lane, the other closed
        for connection in lanes._connections.values():
            await connection.close()
        return list(results)

    assert asyncio.run(main()) == [1, 1]
