using System.CommandLine;
using System.Globalization;
using Ferry.Admin.Accounts;
using Ferry.Cli.CommandLine;
using Ferry.Cli.Users;
using Ferry.Server.Accounts;

namespace Ferry.Cli.Admin;

/// <summary>
/// `ferry admin add|list|remove|token`: the admins file of the admin console (docs/admin.md).
/// Passwords are read as by `ferry user add` (twice without echo on a terminal, one line from a
/// redirected standard input); only PBKDF2 hashes are stored. `token` prints a new API token once
/// and stores its SHA-256 only. Exit codes: 0 done, 1 refused, 2 bad command line.
/// </summary>
internal static class AdminCommand
{
    internal const string Help = """
        NAME
            ferry admin - manage the admins file of the admin console ('ferry serve --admin-port')

        SYNOPSIS
            ferry admin add NAME --admins FILE [--password-stdin]
            ferry admin remove NAME --admins FILE
            ferry admin list --admins FILE
            ferry admin token NAME --admins FILE [--label TEXT]
            ferry admin revoke NAME TOKEN-ID --admins FILE

        DESCRIPTION
            Administrators log in to the console with a name and password (stored as a PBKDF2-SHA256
            hash, as FTP accounts are). 'token' makes an API token for automation
            (Authorization: Bearer ferry_...): it is printed once, only its SHA-256 is kept. A
            running server reads the file again when it changes. --users FILE may be given instead
            of --admins: the admins file is then admins.json beside it, as 'ferry serve' looks for it.

        EXIT STATUS
            0   done
            1   refused: the admin exists, is unknown, or the file is bad
            2   bad command line

        EXAMPLES
            ferry admin add alice --admins /etc/ferry/admins.json
            ferry admin token alice --admins /etc/ferry/admins.json --label backup-script

        """;

    private const string Args = "args";

    public static FerryCommand Create(Func<UserCommand.UserConsole> console)
    {
        var admin = new FerryCommand("admin", "manage the admin console's administrators", () => Help,
            (parse, _) => Task.FromResult(Execute(parse, console())));
        foreach (var verb in new[] { "add", "remove", "list", "token", "revoke" })
        {
            var command = new FerryCommand(verb, $"{verb} administrators", () => Help, (parse, _) => Task.FromResult(Execute(parse, console())));
            command.Add(new Option<string>("--admins") { HelpName = "FILE", Description = "the admins file" });
            command.Add(new Option<string>("--users") { HelpName = "FILE", Description = "the users file; the admins file is admins.json beside it" });
            if (verb == "add")
            {
                command.Add(new Option<bool>("--password-stdin") { Description = "read the password as one line from standard input" });
            }
            if (verb == "token")
            {
                command.Add(new Option<string>("--label") { HelpName = "TEXT", Description = "what the token is for" });
            }
            command.Add(new Argument<string[]>(Args) { Arity = ArgumentArity.ZeroOrMore, HelpName = "NAME" });
            admin.Add(command);
        }
        return admin;
    }

    private static int Execute(ParseResult parse, UserCommand.UserConsole io)
    {
        var (input, output, error, terminal) = io;
        var verb = parse.CommandResult.Command.Name;
        if (verb == "admin")
        {
            error.Write(Help);
            return 2;
        }
        if (CommandLineProblem.Of(parse) is { } problem)
        {
            error.WriteLine($"ferry admin {verb}: {problem switch
            {
                CommandLineProblem.Unknown u => $"unexpected '{u.Token}'.",
                CommandLineProblem.MissingValue m => $"option '{m.Alias}' needs a value.",
                CommandLineProblem.Other o => o.Message,
                _ => "bad command line.",
            }} Run 'ferry admin --help'.");
            return 2;
        }
        var args = parse.GetValue<string[]>(Args) ?? [];
        var path = parse.GetValue<string>("--admins")
            ?? (parse.GetValue<string>("--users") is { } users ? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(users))!, "admins.json") : null);
        if (path is null)
        {
            error.WriteLine($"ferry admin {verb}: --admins FILE (or --users FILE) is required.");
            return 2;
        }
        var wanted = verb switch { "list" => 0, "revoke" => 2, _ => 1 };
        if (args.Length != wanted)
        {
            error.WriteLine($"ferry admin {verb}: takes {(wanted == 0 ? "no argument" : wanted == 1 ? "an admin NAME" : "an admin NAME and a TOKEN-ID")}.");
            return 2;
        }
        try
        {
            var admins = AdminFile.Load(path, missingIsEmpty: true).ToList();
            switch (verb)
            {
                case "list":
                    foreach (var a in admins)
                    {
                        output.WriteLine($"{a.Name}\t{a.Tokens.Count} token(s){string.Concat(a.Tokens.Select(t => $"\t{t.Id} {t.Label} {t.Created:yyyy-MM-dd}"))}");
                    }
                    return 0;
                case "add":
                    if (UserFile.ValidateName(args[0]) is { } nameError)
                    {
                        error.WriteLine($"ferry admin add: {nameError}");
                        return 2;
                    }
                    if (admins.Exists(a => a.Name == args[0]))
                    {
                        error.WriteLine($"ferry admin add: admin '{args[0]}' already exists in '{path}'; remove it first.");
                        return 1;
                    }
                    var password = ReadPassword(parse.GetValue<bool>("--password-stdin"), input, error, terminal);
                    if (password is null)
                    {
                        return 1;
                    }
                    admins.Add(new AdminEntry(args[0], PasswordHash.Create(password), []));
                    AdminFile.Save(path, admins);
                    error.WriteLine($"ferry admin add: added '{args[0]}'.");
                    return 0;
                case "remove":
                    if (admins.RemoveAll(a => a.Name == args[0]) == 0)
                    {
                        error.WriteLine($"ferry admin remove: no admin '{args[0]}' in '{path}'.");
                        return 1;
                    }
                    AdminFile.Save(path, admins);
                    output.WriteLine($"removed '{args[0]}'");
                    return 0;
                case "token":
                    var index = admins.FindIndex(a => a.Name == args[0]);
                    if (index < 0)
                    {
                        error.WriteLine($"ferry admin token: no admin '{args[0]}' in '{path}'.");
                        return 1;
                    }
                    var (secret, stored) = AdminFile.NewToken(parse.GetValue<string>("--label") ?? "");
                    admins[index] = admins[index] with { Tokens = [.. admins[index].Tokens, stored] };
                    AdminFile.Save(path, admins);
                    // The only time the token is shown: standard output, for a script to capture.
                    output.WriteLine(secret);
                    error.WriteLine($"ferry admin token: token {stored.Id} for '{args[0]}' (shown once; only its hash is kept).");
                    return 0;
                default:
                    var owner = admins.FindIndex(a => a.Name == args[0]);
                    if (owner < 0 || !admins[owner].Tokens.Any(t => t.Id == args[1]))
                    {
                        error.WriteLine($"ferry admin revoke: admin '{args[0]}' has no token {args[1]}.");
                        return 1;
                    }
                    admins[owner] = admins[owner] with { Tokens = admins[owner].Tokens.Where(t => t.Id != args[1]).ToArray() };
                    AdminFile.Save(path, admins);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"revoked {args[1]}"));
                    return 0;
            }
        }
        catch (UserFileException e)
        {
            error.WriteLine($"ferry admin {verb}: {e.Message}");
            return 1;
        }
    }

    private static string? ReadPassword(bool passwordStdin, TextReader input, TextWriter error, UserCommand.SecretPrompt? terminal)
    {
        string? password;
        if (terminal is not null && !passwordStdin)
        {
            password = terminal("Password: ");
            if (password != terminal("Password again: "))
            {
                error.WriteLine("ferry admin add: the passwords differ; nothing written.");
                return null;
            }
        }
        else
        {
            password = input.ReadLine();
        }
        if (string.IsNullOrEmpty(password))
        {
            error.WriteLine("ferry admin add: empty password; nothing written.");
            return null;
        }
        return password;
    }
}
