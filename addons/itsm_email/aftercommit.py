# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Work done once a transaction has committed, as a Tryton data manager"


class AfterCommit:
    """Joined to a transaction (Transaction().join): finish() runs once the
    transaction has committed, discard() when it does not commit"""

    def finish(self, transaction):
        pass

    def discard(self, transaction):
        pass

    def abort(self, transaction):
        self.discard(transaction)

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        pass

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        self.finish(transaction)

    def tpc_abort(self, transaction):
        self.discard(transaction)
