# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Domains the suite's searches share"


def rec_name_domain(clause, *names):
    """The domain of a search on rec_name over the fields named: any of them
    matches, or none of them for a negative operator ("!=", "not ilike"…)"""
    negative = clause[1].startswith('!') or clause[1].startswith('not ')
    return ['AND' if negative else 'OR'] + [
        (name, *clause[1:]) for name in names]
