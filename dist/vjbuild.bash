# bash completion for vjbuild(1): commands, their options, jail names
# (from `vjbuild status`), task names for `vjbuild log`, files elsewhere.
_vjbuild()
{
	local cur prev words cword cmd w i
	_init_completion || return
	local commands="build status runs log report graph cache start stop exec ps destroy run-graph adopt fleet builder help"
	cmd=""
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-f | -j | --base | --jails | --state | --recreate | --events | --timeout | --run | --registry) ((i++)) ;;
		-*) ;;
		*) cmd=$w; break ;;
		esac
	done
	case $prev in
	-f | --base | --events) _filedir; return ;;
	--jails | --state) _filedir -d; return ;;
	-j | --timeout | --run) return ;;
	esac
	# The -f given before, for the state's names.
	local conf=()
	for ((i = 1; i < cword; i++)); do
		[ "${words[i]}" = -f ] && conf=(-f "${words[i + 1]}")
	done
	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j -k -n -q -v -f --base --jails --state --recreate --no-cache --always --events --timeout --no-jobserver --rusage --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
			_filedir
		fi ;;
	start | stop | exec | destroy | status)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--all --json --yes --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(vjbuild "${conf[@]}" status 2> /dev/null | awk '/^JAIL/ {j = 1; next} /^$/ {j = 0} j {print $1}')" -- "$cur"))
		fi ;;
	log)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--run --follow --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(vjbuild "${conf[@]}" status 2> /dev/null | awk '/^TASK/ {t = 1; next} t && $1 !~ /^log:/ {print $1}')" -- "$cur"))
		fi ;;
	cache) COMPREPLY=($(compgen -W "ls verify gc --json" -- "$cur")) ;;
	fleet) COMPREPLY=($(compgen -W "status --json --help" -- "$cur")) ;;
	runs | ps) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	help) COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	*) _filedir ;;
	esac
}
complete -F _vjbuild vjbuild
