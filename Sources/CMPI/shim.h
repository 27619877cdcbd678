// OpenMPI for trmdis-mpi. MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM and friends are macros over addresses of
// library globals, which Swift cannot import; these inline functions hand them over.
#include <mpi.h>

static inline MPI_Comm trm_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype trm_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Op trm_mpi_sum(void) { return MPI_SUM; }
static inline void *trm_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler trm_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int trm_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
