# vjbuild: the packages live in /usr/local
PATH="/usr/local/bin:/usr/local/sbin:$PATH"
