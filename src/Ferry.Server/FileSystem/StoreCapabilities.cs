namespace Ferry.Server.FileSystem;

/// <summary>
/// What a store can do beyond reading, listing, creating and deleting: the session asks before it
/// answers 150 (or accepts RNFR), refuses with a clear 502/504/550 what the store cannot do, and FEAT
/// and HELP leave it out. An object store (S3: no append, no offset write, no times, no modes) declares
/// fewer; a host directory declares all.
/// </summary>
[Flags]
public enum StoreCapabilities
{
    None = 0,

    /// <summary>APPE: data added at the end of an existing file.</summary>
    Append = 1 << 0,

    /// <summary>REST n + STOR at any n up to the stored size: the first n bytes kept, the rest written after them.</summary>
    WriteAtOffset = 1 << 1,

    /// <summary>
    /// REST n + STOR where n is exactly the stored size (a resumed upload), for stores that can
    /// continue a file but not overwrite its middle. Implied by <see cref="WriteAtOffset"/>.
    /// </summary>
    ResumeUpload = 1 << 2,

    /// <summary>RNFR/RNTO of a directory (a host rename(2); an object store may copy every key).</summary>
    RenameDirectories = 1 << 3,

    /// <summary>MFMT: the modification time can be set.</summary>
    SetTimes = 1 << 4,

    /// <summary>SITE CHMOD: Unix permission bits.</summary>
    UnixModes = 1 << 5,

    All = Append | WriteAtOffset | ResumeUpload | RenameDirectories | SetTimes | UnixModes,
}
