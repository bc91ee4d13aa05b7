# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The SLA outcome of a ticket, as the reports read it.

A stand-in until the SLA engine lands (it replaces this file): each flag
is NULL when the ticket has no such target, False while the target holds
or once it is met, True once it is missed.
"""
from trytond.model import fields
from trytond.pool import PoolMeta


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    response_breached = fields.Boolean(
        "Response Breached", readonly=True,
        help="The first response came after the target of the SLA; "
        "empty when the ticket has no response target.")
    resolution_breached = fields.Boolean(
        "Resolution Breached", readonly=True,
        help="The resolution came after the target of the SLA; "
        "empty when the ticket has no resolution target.")
