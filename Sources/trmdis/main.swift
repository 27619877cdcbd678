import TRMDISCommands

// `trmdis`: every command lives in TRMDISCommands (Sources/trmdis), shared with trmdis-mpi.
TRMDISCommand.main()
