# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.

# The HTTP routes of the inventory agents register with trytond's WSGI
# application when the module is imported, as inbound_email's do.
from . import routes

__all__ = [routes]
