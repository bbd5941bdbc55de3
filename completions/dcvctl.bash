# bash completion for dcvctl(1)                                  -*- shell-script -*-
#
# The data block mirrors the command table (dcv_commands[] in cmd/). Adding a command, a
# subcommand or an option there means adding it here: tests/unit/test_cli.c runs this script
# and fails until every command, subcommand and option of the table is offered, and nothing else.
# Works without the bash-completion package.

# ---- data -------------------------------------------------------------------------------

_dcvctl_commands='backup broker cert check config deploy exec help hosts logs probe restore service session version'

# Options are listed with their short form first; one that takes a value is written OPT=METAVAR.
# METAVAR is the table's, except AGENT for an option whose NAME is an agent: it says what
# _dcvctl_value completes.
_dcvctl_global_opts='-c=FILE --config=FILE -v --verbose -q --quiet --json --color=WHEN --version -h --help'

# _dcvctl_opts PATH: options of a command ("exec") or of a subcommand ("session create"),
# besides -h and --help.
_dcvctl_opts()
{
	case $1 in
	backup)          echo '-o=FILE --out=FILE --json' ;;
	'broker enable-gateway') echo '-n --dry-run --tls-client-auth' ;;
	'cert check')    echo '-r=HOST:PATH --remote=HOST:PATH -n=FQDN --name=FQDN -k=PATH --key=PATH --json' ;;
	'cert generate') echo '-o=DIR --out=DIR -s=NAME --san=NAME --days=N --install' ;;
	check)           echo '-f=FMT --format=FMT -o=FILE --output=FILE --only=IDS --skip=IDS --hold=DUR --interval=DUR --strict --aws --json' ;;
	'config diff')   echo '--json' ;;
	'config lint')   echo '--json' ;;
	'config render') echo '-a=AGENT --agent=AGENT' ;;
	deploy)          echo '-n --dry-run -d --diff --only=WHAT --serial=N --max-fail=PCT --proxy=KIND --json' ;;
	exec)            echo '-i --stdin -s --sudo -t=DUR --timeout=DUR' ;;
	hosts)           echo '-p --probe --json' ;;
	logs)            echo '-f --follow --since=DUR --grep=RE --errors -n=N --lines=N --json' ;;
	'probe http'|'probe tls')
		echo '--via=HOST --connect-to=HOST:PORT --timeout=DUR --json' ;;
	'probe ws')
		echo '--via=HOST --connect-to=HOST:PORT --hold=DUR --interval=DUR --timeout=DUR --json' ;;
	restore)         echo '-n --dry-run --only=HOST --json' ;;
	service)         echo '--json' ;;
	'session close'|'session create'|'session list'|'session recreate')
		echo '-a=AGENT --agent=AGENT --json' ;;
	version)         echo '--json' ;;
	esac
}

# _dcvctl_subcmds CMD: the subcommands of a command that dispatches to them (one line per
# command, like _dcvctl_opts).
_dcvctl_subcmds()
{
	case $1 in
	broker)  echo 'enable-gateway' ;;
	cert)    echo 'check generate' ;;
	config)  echo 'diff lint render' ;;
	probe)   echo 'http tls ws' ;;
	session) echo 'close create list recreate' ;;
	esac
}

# _dcvctl_args PATH N: candidates for the Nth positional argument (before any "--"): words,
# and @host (inventory hosts), @agent (agents), @managed (gateway and agents), @unit, @command,
# @file, @dir.
_dcvctl_args()
{
	case "$1 $2" in
	'cert check 1')    echo @file ;;
	'config diff '*)   echo @managed ;;
	'config lint '*)   echo '@managed @file' ;;
	'config render 1') echo 'nginx haproxy connection-gateway dcv' ;;
	'exec 1')          echo @host ;;
	'exec '*)          echo -- ;;
	'help 1')          echo @command ;;
	'logs '*)          echo @managed ;;
	'restore 1')       echo @file ;;
	'service 1')       echo 'status start stop restart reload enable disable' ;;
	'service 2')       echo @host ;;
	'service '*)       echo @unit ;;
	esac
}

# _dcvctl_value METAVAR: candidates for an option's value, in the same notation (@checkid:
# check IDs and prefixes, comma-separated).
_dcvctl_value()
{
	case $1 in
	FILE|PATH) echo @file ;;
	DIR)       echo @dir ;;
	HOST)      echo @host ;;
	AGENT)     echo @agent ;;
	WHAT)      echo 'gateway agents @agent' ;;
	FMT)       echo 'text json junit tap prometheus' ;;
	IDS)       echo @checkid ;;
	WHEN)      echo 'auto always never' ;;
	esac
}

_dcvctl_units='nginx haproxy dcvserver dcv-session-manager-agent dcv-session-manager-broker dcv-connection-gateway'

# ---- engine -----------------------------------------------------------------------------

# _dcvctl_hosts [FILE [agent|managed]]: host names of the inventory dcvctl would read (-c FILE,
# $DCVCTL_CONFIG, ./dcvctl.conf, $XDG_CONFIG_HOME/dcvctl/dcvctl.conf): [gateway], [bastion],
# [agent NAME]; only the agents, or the gateway and the agents.
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
	awk -v only="${2-}" '
	     /^\[[ \t]*gateway[ \t]*\]/ { if (only != "agent") print "gateway" }
	     /^\[[ \t]*bastion[ \t]*\]/ { if (only == "") print "bastion" }
	     /^\[[ \t]*agent[ \t]+[^] \t]+[ \t]*\]/ { sub(/^\[[ \t]*agent[ \t]+/, ""); sub(/[ \t]*\].*/, ""); print }' \
		"$f" 2>/dev/null
}

# _dcvctl_checkids [FILE]: the check IDs and the prefixes --only and --skip take.
_dcvctl_checkids()
{
	local a
	echo bastion bastion.ssh gateway gateway.ssh gateway.legacy-services gateway.proxy \
		gateway.proxy.service gateway.proxy.config gateway.proxy.listen gateway.cert gateway.to \
		agent endpoint endpoint.tcp endpoint.tls endpoint.http endpoint.websocket endpoint.hold \
		broker broker.service broker.enable-gateway broker.listen gateway.resolver \
		gateway.resolver.tls gateway.resolver.mtls gateway.resolver.session
	for a in $(_dcvctl_hosts "$1" agent); do
		echo "agent.$a agent.$a.ssh agent.$a.sm-agent agent.$a.dcvserver agent.$a.config" \
			"agent.$a.session gateway.to.$a gateway.to.$a.tcp gateway.to.$a.tls gateway.to.$a.http" \
			"gateway.resolver.session.$a"
	done
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

# _dcvctl_reply PREFIX CUR CANDIDATES [FILE]: fill COMPREPLY from words and @kinds.
_dcvctl_reply()
{
	local pfx=$1 cur=$2 conf=$4 w words='' files='' c
	for w in $3; do
		case $w in
		@host)    words+=" $(_dcvctl_hosts "$conf")" ;;
		@agent)   words+=" $(_dcvctl_hosts "$conf" agent)" ;;
		@managed) words+=" $(_dcvctl_hosts "$conf" managed)" ;;
		@unit)    words+=" $_dcvctl_units" ;;
		@command) words+=" $_dcvctl_commands" ;;
		@checkid)
			# a comma-separated list: complete its last item
			words+=" $(_dcvctl_checkids "$conf")"
			if [[ $cur == *,* ]]; then
				pfx+=${cur%,*},
				cur=${cur##*,}
			fi
			;;
		@file|@dir) files=$w ;;
		*)        words+=" $w" ;;
		esac
	done
	mapfile -t COMPREPLY < <(compgen -P "$pfx" -W "$words" -- "$cur")
	if [[ -n $files ]]; then
		compopt -o filenames 2>/dev/null
		c=-f
		[[ $files == @dir ]] && c=-d
		mapfile -t -O ${#COMPREPLY[@]} COMPREPLY < <(compgen $c -- "$cur")
	fi
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
