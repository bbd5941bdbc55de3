# bash completion for dcvctl(1)                                  -*- shell-script -*-
#
# The data block mirrors the command table (dcv_commands[] in cmd/). Adding a command, a
# subcommand or an option there means adding it here: tests/unit/test_cli.c runs this script
# and fails until every command, subcommand and option of the table is offered, and nothing else.
# Works without the bash-completion package.

# ---- data -------------------------------------------------------------------------------

_dcvctl_commands='exec help hosts service version'

# Options are listed with their short form first; one that takes a value is written OPT=METAVAR.
_dcvctl_global_opts='-c=FILE --config=FILE -v --verbose -q --quiet --json --color=WHEN --version -h --help'

# _dcvctl_opts PATH: options of a command ("exec") or of a subcommand ("session create"),
# besides -h and --help.
_dcvctl_opts()
{
	case $1 in
	exec)    echo '-i --stdin -s --sudo -t=DUR --timeout=DUR' ;;
	hosts)   echo '-p --probe --json' ;;
	service) echo '--json' ;;
	version) echo '--json' ;;
	esac
}

# _dcvctl_subcmds CMD: the subcommands of a command that dispatches to them (one line per
# command, like _dcvctl_opts). No command has subcommands yet.
_dcvctl_subcmds()
{
	case $1 in
	esac
}

# _dcvctl_args PATH N: candidates for the Nth positional argument (before any "--"): words, or
# @host (inventory hosts), @unit, @command, @file, @dir.
_dcvctl_args()
{
	case "$1 $2" in
	'exec 1')    echo @host ;;
	'exec '*)    echo -- ;;
	'help 1')    echo @command ;;
	'service 1') echo 'status start stop restart reload enable disable' ;;
	'service 2') echo @host ;;
	'service '*) echo @unit ;;
	esac
}

# _dcvctl_value METAVAR: candidates for an option's value, in the same notation.
_dcvctl_value()
{
	case $1 in
	FILE|ARCHIVE) echo @file ;;
	DIR)          echo @dir ;;
	HOST)         echo @host ;;
	WHEN)         echo 'auto always never' ;;
	esac
}

_dcvctl_units='nginx haproxy dcvserver dcv-session-manager-agent dcv-session-manager-broker dcv-connection-gateway'

# ---- engine -----------------------------------------------------------------------------

# _dcvctl_hosts [FILE]: host names of the inventory dcvctl would read (-c FILE, $DCVCTL_CONFIG,
# ./dcvctl.conf, $XDG_CONFIG_HOME/dcvctl/dcvctl.conf): [gateway], [bastion], [agent NAME].
_dcvctl_hosts()
{
	local f=$1
	f=${f#[\"\']}
	f=${f%[\"\']}
	[[ -z $f ]] && f=${DCVCTL_CONFIG-}
	[[ -z $f && -e dcvctl.conf ]] && f=dcvctl.conf
	[[ -z $f ]] && f=${XDG_CONFIG_HOME:-$HOME/.config}/dcvctl/dcvctl.conf
	[[ ${f:0:1} == '~' && ${f:1:1} == / ]] && f=$HOME/${f:2}
	[[ -r $f ]] || return 0
	awk '/^\[[ \t]*(gateway|bastion)[ \t]*\]/ { sub(/^\[[ \t]*/, ""); sub(/[ \t]*\].*/, ""); print }
	     /^\[[ \t]*agent[ \t]+[^] \t]+[ \t]*\]/ { sub(/^\[[ \t]*agent[ \t]+/, ""); sub(/[ \t]*\].*/, ""); print }' \
		"$f" 2>/dev/null
}

# _dcvctl_meta OPTS WORD: the metavariable when WORD is an option of OPTS that takes its value
# from the next word ("-t", "--timeout", "-ist"); nothing for a flag or an attached value.
_dcvctl_meta()
{
	local opts=" $1 " w=$2 rest c
	case $w in
	--*=*) return ;;
	--*)
		[[ $opts == *" $w="* ]] || return
		rest=${opts#*" $w="}
		echo "${rest%% *}"
		;;
	-*)
		w=${w#-}
		while [[ -n $w ]]; do
			c=${w:0:1}
			w=${w:1}
			if [[ $opts == *" -$c="* ]]; then
				[[ -n $w ]] && return
				rest=${opts#*" -$c="}
				echo "${rest%% *}"
				return
			fi
		done
		;;
	esac
}

# _dcvctl_reply PREFIX CUR CANDIDATES: fill COMPREPLY from words or an @kind.
_dcvctl_reply()
{
	local pfx=$1 cur=$2 cands=$3 conf=$4
	case $cands in
	@host)    cands=$(_dcvctl_hosts "$conf") ;;
	@unit)    cands=$_dcvctl_units ;;
	@command) cands=$_dcvctl_commands ;;
	@file|@dir)
		compopt -o filenames 2>/dev/null
		if [[ $cands == @dir ]]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		return
		;;
	esac
	mapfile -t COMPREPLY < <(compgen -P "$pfx" -W "$cands" -- "$cur")
}

_dcvctl()
{
	local -a words=()
	local j w cw=0 i path='' conf='' meta='' opt='' npos=0 dd=0 opts cur pfx=''

	# Join "--opt" "=" "value" back into one word: bash splits at '=' (COMP_WORDBREAKS).
	for ((j = 0; j < ${#COMP_WORDS[@]}; j++)); do
		w=${COMP_WORDS[j]}
		if ((${#words[@]})) && [[ $w == = && ${words[-1]} == --* && ${words[-1]} != *=* ]]; then
			words[-1]+='='
		elif ((${#words[@]})) && [[ ${words[-1]} == --*= && ${COMP_WORDS[j-1]} == = ]]; then
			words[-1]+=$w
		else
			words+=("$w")
		fi
		((j == COMP_CWORD)) && cw=$((${#words[@]} - 1))
	done
	cur=${words[cw]}
	COMPREPLY=()

	opts=$_dcvctl_global_opts
	for ((i = 1; i < cw; i++)); do
		w=${words[i]}
		if [[ -n $meta ]]; then
			[[ -z $path && ($opt == --config || $opt == -c) ]] && conf=$w
			meta=''
			continue
		fi
		if ((dd)); then
			((npos++))
		elif [[ $w == -- && -n $path ]]; then
			dd=1
		elif [[ $w == -?* ]]; then
			opt=$w
			meta=$(_dcvctl_meta "$opts" "$w")
			if [[ -z $path ]]; then
				case $w in
				--config=*) conf=${w#*=} ;;
				-c?*) conf=${w#-c} ;;
				esac
			fi
		elif [[ -z $path ]]; then
			path=$w
			opts="$(_dcvctl_opts "$path") -h --help"
		elif [[ $path != *' '* && -n $(_dcvctl_subcmds "$path") && $npos == 0 ]]; then
			path+=" $w"
			opts="$(_dcvctl_opts "$path") -h --help"
		else
			((npos++))
		fi
	done

	if [[ -n $meta ]]; then
		_dcvctl_reply '' "$cur" "$(_dcvctl_value "$meta")" "$conf"
		return
	fi
	((dd)) && return
	if [[ $cur == --*=* ]]; then
		meta=$(_dcvctl_meta "$opts" "${cur%%=*}")
		[[ -n $meta ]] || return
		# bash replaces only the part after '=' when it split the word there
		[[ ${COMP_WORDS[COMP_CWORD]} == "$cur" ]] && pfx=${cur%%=*}=
		_dcvctl_reply "$pfx" "${cur#*=}" "$(_dcvctl_value "$meta")" "$conf"
		return
	fi
	if [[ $cur == -* ]]; then
		if [[ -n $path && $path != *' '* && -n $(_dcvctl_subcmds "$path") ]]; then
			opts='-h --help'
		fi
		opts=" $opts "
		while [[ $opts == *=* ]]; do
			w=${opts#*=}
			opts=${opts%%=*}" ${w#* }"
		done
		_dcvctl_reply '' "$cur" "$opts"
	elif [[ -z $path ]]; then
		_dcvctl_reply '' "$cur" "$_dcvctl_commands"
	elif [[ $path != *' '* && -n $(_dcvctl_subcmds "$path") ]]; then
		_dcvctl_reply '' "$cur" "$(_dcvctl_subcmds "$path")"
	else
		_dcvctl_reply '' "$cur" "$(_dcvctl_args "$path" $((npos + 1)))" "$conf"
	fi
}

complete -F _dcvctl dcvctl
