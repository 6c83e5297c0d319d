namespace Ferry.Protocol;

/// <summary>FTP reply codes (RFC 959 §4.2, RFC 2228, RFC 2428, RFC 3659, RFC 4217), named in one place.</summary>
public static class ReplyCode
{
    public const int RestartMarker = 110;
    public const int ServiceReadyInMinutes = 120;
    public const int DataConnectionAlreadyOpen = 125;
    public const int FileStatusOkay = 150;

    public const int CommandOkay = 200;
    public const int CommandSuperfluous = 202;
    public const int SystemStatus = 211;
    public const int DirectoryStatus = 212;
    public const int FileStatus = 213;
    public const int HelpMessage = 214;
    public const int SystemType = 215;
    public const int ServiceReady = 220;
    public const int ClosingControlConnection = 221;
    public const int DataConnectionOpen = 225;
    public const int ClosingDataConnection = 226;
    public const int EnteringPassiveMode = 227;
    public const int EnteringLongPassiveMode = 228;
    public const int EnteringExtendedPassiveMode = 229;
    public const int UserLoggedIn = 230;
    public const int SecurityExchangeComplete = 234;
    public const int FileActionOkay = 250;
    public const int PathCreated = 257;

    public const int NeedPassword = 331;
    public const int NeedAccount = 332;
    public const int RequestedFileActionPending = 350;

    public const int ServiceNotAvailable = 421;
    public const int CantOpenDataConnection = 425;
    public const int ConnectionClosedTransferAborted = 426;
    public const int FileActionNotTaken = 450;
    public const int ActionAbortedLocalError = 451;
    public const int InsufficientStorage = 452;

    public const int SyntaxError = 500;
    public const int SyntaxErrorInArguments = 501;
    public const int NotImplemented = 502;
    public const int BadSequence = 503;
    public const int NotImplementedForParameter = 504;
    public const int NotLoggedIn = 530;
    public const int NeedAccountForStoring = 532;
    public const int ProtectionLevelDenied = 534;

    /// <summary>RFC 2228: the PROT level is not supported by the security mechanism (S and E with TLS).</summary>
    public const int ProtectionLevelNotSupported = 536;

    /// <summary>
    /// A data connection refused for its (missing) TLS: not under PROT P when TLS is required, or
    /// not resuming the control connection's session. 522, as vsftpd and ProFTPD answer.
    /// </summary>
    public const int DataConnectionNeedsTls = 522;
    public const int FileUnavailable = 550;
    public const int PageTypeUnknown = 551;
    public const int ExceededStorageAllocation = 552;
    public const int FileNameNotAllowed = 553;
    public const int InvalidRestartPosition = 554;

    /// <summary>RFC 2428 §3: the network protocol in EPRT is not supported.</summary>
    public const int NetworkProtocolNotSupported = 522;

    public static bool IsPositivePreliminary(int code) => code is >= 100 and < 200;
    public static bool IsPositiveCompletion(int code) => code is >= 200 and < 300;
    public static bool IsPositiveIntermediate(int code) => code is >= 300 and < 400;
    public static bool IsTransientNegative(int code) => code is >= 400 and < 500;
    public static bool IsPermanentNegative(int code) => code is >= 500 and < 600;
}
