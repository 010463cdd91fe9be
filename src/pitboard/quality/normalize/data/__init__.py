"""Tables the normalisers read at import: countries, regions, free-mail domains, role accounts, nicknames and
job-title rules. Plain text, one entry a line, so a change is a reviewable diff."""
