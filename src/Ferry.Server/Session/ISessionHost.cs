namespace Ferry.Server.Session;

/// <summary>
/// The server's bookkeeping around one session, called by the session's own task
/// (<see cref="ControlConnection.RunAsync"/>), so the server holds no async frame per session.
/// </summary>
internal interface ISessionHost
{
    /// <summary>The session runs: the heartbeat, a drain, a stop and a kick reach it from now on.</summary>
    void Register(ControlConnection session);

    /// <summary>The session's loop has ended; its connection closes next.</summary>
    void Unregister(ControlConnection session);

    /// <summary>The connection is closed: its slot in the connection limits is free.</summary>
    void Ended(ControlConnection session);
}
