"Tools around the ITSM suite: command line, server, demo data, testing"
