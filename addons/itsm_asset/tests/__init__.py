# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
