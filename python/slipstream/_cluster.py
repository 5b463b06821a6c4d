"""What ``Client.cluster()`` returns: the members, and the state of replication."""

from __future__ import annotations

from typing import Any


class ClusterView(list[dict[str, Any]]):
    """The members of the cluster, and how replication stands.

    A list of dicts, one per node, by name, with the state of replication
    as the connected node sees it in its attributes.

    Attributes
    ----------
    replication : int
        Copies each partition of an upload gets (``--replication``, at most
        the alive nodes).
    min_replicas : int
        Durable copies of every partition an upload waits for before it is
        acknowledged (``--min-replicas``); fewer, and it is refused.
    under_replicated : list of dict
        Partitions with fewer copies on alive nodes than the replication asks
        for: ``table``, ``partition`` (its index), ``id``, ``holders`` and
        ``alive_holders``.
    tables : dict of str to dict
        Each table's ``partitions`` (how many) and ``under_replicated`` (the
        indices of those short of copies), by name.
    repairs : list of dict
        The copies of partitions the connected node is making or driving now:
        ``kind`` (``repair``: a copy it lacks or found damaged;
        ``re-replication`` or ``rebalancing``: a copy it drives between two
        nodes; ``copy``: a copy another node drives to it), ``table``,
        ``partition_id``, ``from``, ``to``, ``bytes_copied`` and ``seconds``.
        Copies are paced by ``--repair-rate``.
    repairs_pending : int
        Copies the connected node should hold but lacks (missing or damaged)
        and has not yet fetched from a replica.
    damaged_found, repaired : int
        Damaged copies the connected node found, and copies it repaired,
        since it started.
    re_replicating : str
        The copy the connected node is making of a partition of a node gone
        for longer than ``--repair-grace`` (empty: none; the first alive node
        by name drives re-replication).
    re_replicated : int
        Such copies the connected node has made since it started.
    rebalanced : int
        Partitions the connected node has moved from a node holding more
        than its share to one holding less (a node that joined), since it
        started.
    """

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status.get("members", []))
        self.replication: int = status.get("replication", 1)
        self.min_replicas: int = status.get("min_replicas", 1)
        self.under_replicated: list[dict[str, Any]] = list(status.get("under_replicated", []))
        self.repairs_pending: int = status.get("repairs_pending", 0)
        self.damaged_found: int = status.get("damaged_found", 0)
        self.repaired: int = status.get("repaired", 0)
        self.re_replicating: str = status.get("re_replicating", "")
        self.re_replicated: int = status.get("re_replicated", 0)
        self.rebalanced: int = status.get("rebalanced", 0)
        self.tables: dict[str, dict[str, Any]] = dict(status.get("tables", {}))
        self.repairs: list[dict[str, Any]] = list(status.get("repairs", []))
