using Ferry.Protocol;
using Ferry.Server.FileSystem;

namespace Ferry.Server.Session;

/// <summary>Fixed replies, made once; and the mapping from storage errors to replies.</summary>
internal static class Replies
{
    public static readonly FtpReply NotLoggedIn = new(ReplyCode.NotLoggedIn, "Please login with USER and PASS.");
    public static readonly FtpReply UnknownCommand = new(ReplyCode.SyntaxError, "Unknown command.");
    public static readonly FtpReply EmptyCommand = new(ReplyCode.SyntaxError, "Empty command.");
    public static readonly FtpReply NotImplemented = new(ReplyCode.NotImplemented, "Command not implemented.");
    public static readonly FtpReply UsePortOrPasvFirst = new(ReplyCode.CantOpenDataConnection, "Use PORT, EPRT, PASV or EPSV first.");
    public static readonly FtpReply CantOpenDataConnection = new(ReplyCode.CantOpenDataConnection, "Cannot open data connection.");
    public static readonly FtpReply TransferAborted = new(ReplyCode.ConnectionClosedTransferAborted, "Connection closed; transfer aborted.");
    public static readonly FtpReply TransferComplete = new(ReplyCode.ClosingDataConnection, "Transfer complete.");
    public static readonly FtpReply CommandOkay = new(ReplyCode.CommandOkay, "Command okay.");
    public static readonly FtpReply NoOperation = new(ReplyCode.CommandOkay, "NOOP ok.");
    public static readonly FtpReply PermissionDenied = new(ReplyCode.FileUnavailable, "Permission denied.");
    public static readonly FtpReply NoSuchFile = new(ReplyCode.FileUnavailable, "No such file or directory.");
    public static readonly FtpReply InvalidPath = new(ReplyCode.FileUnavailable, "Invalid path.");
    public static readonly FtpReply NulInCommand = new(ReplyCode.SyntaxErrorInArguments, "Command line contains a NUL character.");
    public static readonly FtpReply FileBusy = new(ReplyCode.FileActionNotTaken, "File is busy (being uploaded); try again later.");
    public static readonly FtpReply ReadLocalError = new(ReplyCode.ActionAbortedLocalError, "Read error: transfer aborted.");
    public static readonly FtpReply WriteLocalError = new(ReplyCode.ActionAbortedLocalError, "Write error: transfer aborted.");
    public static readonly FtpReply StorageFull = new(ReplyCode.InsufficientStorage, "Insufficient storage space: transfer aborted.");
    public static readonly FtpReply QuotaExceeded = new(ReplyCode.ExceededStorageAllocation, "Exceeded storage allocation (quota): transfer aborted.");
    public static readonly FtpReply FileQuotaExceeded = new(ReplyCode.ExceededStorageAllocation, "Exceeded storage allocation: file quota reached.");
    public static readonly FtpReply NotPlainFile = new(ReplyCode.FileUnavailable, "Not a plain file.");

    /// <summary>A verb the session's store cannot serve (<see cref="StoreCapabilities"/>): 502, as for a verb not implemented.</summary>
    public static FtpReply NotSupportedByStore(string verb) => new(ReplyCode.NotImplemented, $"{verb} is not supported by this storage.");

    public static FtpReply ForFileSystemError(FileSystemException e) => e.Error switch
    {
        FileSystemError.NotFound => NoSuchFile,
        FileSystemError.AccessDenied or FileSystemError.OutsideRoot => PermissionDenied,
        FileSystemError.AlreadyExists => new FtpReply(ReplyCode.FileUnavailable, "File exists."),
        FileSystemError.NotADirectory => new FtpReply(ReplyCode.FileUnavailable, "Not a directory."),
        FileSystemError.IsADirectory => new FtpReply(ReplyCode.FileUnavailable, "Is a directory."),
        FileSystemError.DirectoryNotEmpty => new FtpReply(ReplyCode.FileUnavailable, "Directory not empty."),
        FileSystemError.InvalidName => new FtpReply(ReplyCode.FileNameNotAllowed, "File name not allowed."),
        FileSystemError.DiskFull => new FtpReply(ReplyCode.InsufficientStorage, "Insufficient storage space."),
        FileSystemError.QuotaExceeded => QuotaExceeded,
        FileSystemError.Busy => FileBusy,
        FileSystemError.LimitExceeded => new FtpReply(ReplyCode.FileUnavailable, e.Message),
        FileSystemError.CrossStore => new FtpReply(ReplyCode.FileNameNotAllowed, "Cannot rename across a folder's mount point (another store)."),
        _ => new FtpReply(ReplyCode.ActionAbortedLocalError, "Local error in processing."),
    };
}
