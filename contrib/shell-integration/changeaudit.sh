# changeaudit shell integration for bash and zsh.
#
# Source it from the shell's start-up file on a device (for example in /etc/bash.bashrc,
# /etc/zsh/zshrc, ~/.bashrc or ~/.zshrc):
#
#     . /etc/changeaudit/changeaudit.sh
#
# The shell then announces, with OSC 633 sequences (the OSC 133 marks plus the command line),
# where each prompt starts and ends, the exact command line it is about to run, and the exit
# status of that command; each command line and status is preceded by `P;ShellPid=<pid>`, so
# that the status of a command that started a nested shell finds its command. changeaudit reads these from the recorded session, so it knows
# exactly what ran and how it ended instead of reading it off the screen.
#
# The broker hands the login shell a random nonce for the session in CHANGEAUDIT_NONCE (an SSH
# `env` request: the device's sshd needs `AcceptEnv CHANGEAUDIT_NONCE`). This script takes it
# into a shell variable, removes it from the environment so no command inherits it, and appends
# it to its E and D marks: marks a command prints without it, such as a `cat` of a log that
# holds marks, are then told apart from the shell's own.
#
# bash shows the whole command line only through its history, so in bash this script clears
# HISTCONTROL and HISTIGNORE: no command line (one typed with a leading space, a repeated one, or
# one matching a pattern) may stay out of it.

case $- in *i*) ;; *) return 0 2>/dev/null || exit 0 ;; esac
[ -n "${__CHANGEAUDIT_SHELL_INTEGRATION:-}" ] && return 0
__CHANGEAUDIT_SHELL_INTEGRATION=1
__changeaudit_nonce=${CHANGEAUDIT_NONCE:-}
__changeaudit_nonce=${__changeaudit_nonce//[^A-Za-z0-9_-]/}
__changeaudit_nonce=${__changeaudit_nonce:+;$__changeaudit_nonce}
unset CHANGEAUDIT_NONCE

# Escapes a command line for OSC 633;E: backslash, semicolon and control characters as \xHH.
__changeaudit_escape() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//;/\\x3b}
    s=${s//$'\n'/\\x0a}
    s=${s//$'\r'/\\x0d}
    s=${s//$'\t'/\\x09}
    s=${s//$'\e'/\\x1b}
    s=${s//$'\a'/\\x07}
    printf '%s' "$s"
}

if [ -n "${BASH_VERSION:-}" ]; then
    __changeaudit_running=0
    # Until the first prompt, nothing the start-up files run is the person's command.
    __changeaudit_in_prompt=1
    # The history number of the last command line announced.
    __changeaudit_announced=-1

    __changeaudit_preexec() {
        # The DEBUG trap fires for every simple command. A new command line is one with a new
        # history number: each line of a paste gets its own, an empty line none, and the
        # prompt's own commands and completion functions are not the person's.
        [ "$__changeaudit_in_prompt" = 1 ] && return
        [ -n "${COMP_LINE:-}" ] && return
        [[ $BASH_COMMAND == __changeaudit_precmd* ]] && return
        [ "$HISTCMD" = "$__changeaudit_announced" ] && return
        __changeaudit_announced=$HISTCMD
        __changeaudit_running=1
        local line
        line=$(HISTTIMEFORMAT='' builtin history 1)
        if [[ $line =~ ^[[:space:]]*[0-9]+[*]?[[:space:]][[:space:]](.*)$ ]]; then
            line=${BASH_REMATCH[1]}
        else
            line=$BASH_COMMAND
        fi
        printf '\e]633;P;ShellPid=%s\a\e]633;E;%s%s\a\e]633;C\a' "$$" "$(__changeaudit_escape "$line")" "$__changeaudit_nonce"
    }

    __changeaudit_precmd() {
        local exit_status=$?
        __changeaudit_in_prompt=1
        if [ "$__changeaudit_running" = 1 ]; then
            printf '\e]633;P;ShellPid=%s\a\e]633;D;%s%s\a' "$$" "$exit_status" "$__changeaudit_nonce"
        fi
        __changeaudit_running=0
        # Hooks after this one in PROMPT_COMMAND still see the command's status.
        return "$exit_status"
    }

    __changeaudit_prompt_done() {
        __changeaudit_in_prompt=0
    }

    # Every command line must reach history, where bash keeps the whole line as typed.
    HISTCONTROL=
    HISTIGNORE=
    set -o history
    PS1='\[\e]633;A\a\]'"${PS1:-\$ }"'\[\e]633;B\a\]'
    # The last command of PROMPT_COMMAND re-arms the trap for the person's next command line.
    if [ -n "${PROMPT_COMMAND:-}" ]; then
        PROMPT_COMMAND="__changeaudit_precmd;${PROMPT_COMMAND};__changeaudit_prompt_done"
    else
        PROMPT_COMMAND="__changeaudit_precmd;__changeaudit_prompt_done"
    fi
    trap '__changeaudit_preexec' DEBUG
elif [ -n "${ZSH_VERSION:-}" ]; then
    __changeaudit_running=0

    __changeaudit_preexec() {
        # zsh hands preexec the command line exactly as typed.
        __changeaudit_running=1
        printf '\e]633;P;ShellPid=%s\a\e]633;E;%s%s\a\e]633;C\a' "$$" "$(__changeaudit_escape "$1")" "$__changeaudit_nonce"
    }

    __changeaudit_precmd() {
        local exit_status=$?
        if [ "$__changeaudit_running" = 1 ]; then
            printf '\e]633;P;ShellPid=%s\a\e]633;D;%s%s\a' "$$" "$exit_status" "$__changeaudit_nonce"
        fi
        __changeaudit_running=0
        return "$exit_status"
    }

    autoload -Uz add-zsh-hook
    add-zsh-hook preexec __changeaudit_preexec
    add-zsh-hook precmd __changeaudit_precmd
    PS1=$'%{\e]633;A\a%}'"${PS1:-%# }"$'%{\e]633;B\a%}'
fi
